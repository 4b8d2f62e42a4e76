//! The reference kernels: plain Rust, every platform.

/// Sum of the bytes.
pub fn sum_u8(data: &[u8]) -> u64 {
    // u32 partial sums of at most 2^24 bytes cannot overflow, and vectorise well.
    data.chunks(1 << 24)
        .map(|c| u64::from(c.iter().map(|&v| u32::from(v)).sum::<u32>()))
        .sum()
}

/// See [`super::add_u8_to_u16`].
pub fn add_u8_to_u16(acc: &mut [u16], src: &[u8]) {
    for (a, &v) in acc.iter_mut().zip(src) {
        *a = a.wrapping_add(u16::from(v));
    }
}

/// See [`super::lerp_rows_u8`].
pub fn lerp_rows_u8(r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    for ((o, &v0), &v1) in out.iter_mut().zip(r0).zip(r1) {
        // Non-negative, so truncating `+ 0.5` rounds half up; `as` saturates at both ends.
        *o = ((v0 + (v1 - v0) * t + 0.5) as u32).min(255) as u8;
    }
}

/// See [`super::weighted_rows`].
pub fn weighted_rows(taps: &[(f32, &[f32])], out: &mut [f32]) {
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for &(k, row) in taps {
            acc += k * row[x];
        }
        *o = acc;
    }
}

/// See [`super::lerp_gather`].
pub fn lerp_gather(row: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [f32]) {
    for (((o, &i0), &i1), &t) in out.iter_mut().zip(idx0).zip(idx1).zip(frac) {
        let (v0, v1) = (row[i0 as usize], row[i1 as usize]);
        *o = v0 + (v1 - v0) * t;
    }
}
