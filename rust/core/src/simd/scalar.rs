//! The reference kernels: plain Rust, every platform.

use super::{Unknowns, UNKNOWN};

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

/// See [`super::quad_fixed_u8`].
pub fn quad_fixed_u8(a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    let pair = |row: &[u8], i: usize| u16::from(row[2 * i]) + u16::from(row[2 * i + 1]);
    for (i, o) in out.iter_mut().enumerate() {
        *o = match b {
            Some(b) => (pair(a, i) + pair(b, i)) << 2,
            None => pair(a, i) << 3,
        };
    }
}

/// See [`super::mean_fixed`].
#[inline]
pub fn mean_fixed(sum: u16, count: u16) -> u16 {
    match count {
        0 => UNKNOWN,
        1 => sum,
        2 => sum.wrapping_add(1) >> 1,
        3 => ((u32::from(sum.wrapping_add(1)) * 0x5556) >> 16) as u16,
        _ => sum.wrapping_add(2) >> 2,
    }
}

/// See [`super::pull_fixed`].
pub fn pull_fixed(r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    let n = r0.len();
    let mut unknown = Unknowns::NONE;
    for (i, o) in out.iter_mut().enumerate() {
        let (mut sum, mut count) = (0u16, 0u16);
        for row in [Some(r0), r1].into_iter().flatten() {
            for &v in &row[2 * i..(2 * i + 2).min(n)] {
                if v != UNKNOWN {
                    sum = sum.wrapping_add(v);
                    count += 1;
                }
            }
        }
        *o = mean_fixed(sum, count);
        if count == 0 {
            unknown.add_bits(i, 1);
        }
    }
    unknown
}

/// One value of the blend of two coarse rows a fine row lies between, in quarters: `3 * h + l`
/// for the heavier row's `h` and the lighter's `l` (wrapping).
#[inline(always)]
fn blend(c0: &[u16], c1: &[u16], heavy_first: bool, k: usize) -> u16 {
    let (h, l) = if heavy_first {
        (c0[k], c1[k])
    } else {
        (c1[k], c0[k])
    };
    h.wrapping_mul(3).wrapping_add(l)
}

/// See [`super::upsampled_fixed`].
#[inline(always)]
pub fn upsampled_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, x: usize) -> u16 {
    let m = x / 2;
    let b = |k: usize| blend(c0, c1, heavy_first, k);
    if x % 2 == 0 {
        b(m).wrapping_add(b(m + 1).wrapping_mul(3))
    } else {
        b(m + 1).wrapping_mul(3).wrapping_add(b(m + 2))
    }
}

/// See [`super::push_fixed`].
pub fn push_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    for (x, f) in fine.iter_mut().enumerate() {
        if *f == UNKNOWN {
            *f = upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(8) >> 4;
        }
    }
}

/// See [`super::write_fixed_u8`].
pub fn write_fixed_u8(c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    for (x, o) in out.iter_mut().enumerate() {
        *o = (upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(128) >> 8) as u8;
    }
}
