//! The reference kernels: plain Rust, every platform.

/// Sum of the bytes.
pub fn sum_u8(data: &[u8]) -> u64 {
    // u32 partial sums of at most 2^24 bytes cannot overflow, and vectorise well.
    data.chunks(1 << 24)
        .map(|c| u64::from(c.iter().map(|&v| u32::from(v)).sum::<u32>()))
        .sum()
}

/// See [`super::lerp_u8`].
pub fn lerp_u8(blended: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [u8]) {
    for (((o, &i0), &i1), &t) in out.iter_mut().zip(idx0).zip(idx1).zip(frac) {
        let (v0, v1) = (blended[i0 as usize], blended[i1 as usize]);
        // Non-negative, so truncating `+ 0.5` rounds half up; `as` saturates at both ends.
        *o = ((v0 + (v1 - v0) * t + 0.5) as u32).min(255) as u8;
    }
}

/// See [`super::add_block_sums_u8`].
pub fn add_block_sums_u8(
    row: &[u8],
    a: usize,
    b: usize,
    block_w: usize,
    col0: usize,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let mut x = a;
    while x < b {
        let bx = x / block_w;
        let end = ((bx + 1) * block_w).min(b);
        sums[bx - col0] += sum_u8(&row[x..end]);
        counts[bx - col0] += (end - x) as u32;
        x = end;
    }
}
