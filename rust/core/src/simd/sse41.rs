//! SSE4.1 kernels (x86-64).

use std::arch::x86_64::*;

/// Sum of the bytes, 16 at a time with `psadbw`.
///
/// # Safety
/// The CPU must support SSE4.1.
#[target_feature(enable = "sse4.1")]
pub unsafe fn sum_u8(data: &[u8]) -> u64 {
    let chunks = data.chunks_exact(16);
    let tail = chunks.remainder();
    let zero = _mm_setzero_si128();
    let mut acc = _mm_setzero_si128();
    for c in chunks {
        // SAFETY: `c` is 16 readable bytes; unaligned loads are allowed.
        let v = unsafe { _mm_loadu_si128(c.as_ptr().cast()) };
        acc = _mm_add_epi64(acc, _mm_sad_epu8(v, zero));
    }
    let mut total =
        (_mm_cvtsi128_si64(acc) as u64).wrapping_add(_mm_extract_epi64::<1>(acc) as u64);
    let mut rest = tail;
    if rest.len() >= 8 {
        // SAFETY: at least 8 readable bytes; `loadl` reads exactly 8.
        let v = unsafe { _mm_loadl_epi64(rest.as_ptr().cast()) };
        total += _mm_cvtsi128_si64(_mm_sad_epu8(v, zero)) as u64;
        rest = &rest[8..];
    }
    total + rest.iter().map(|&v| u64::from(v)).sum::<u64>()
}

/// See [`super::lerp_u8`]; four samples at a time.
///
/// # Safety
/// The CPU must support SSE4.1, and every index must be below `blended.len()`.
#[target_feature(enable = "sse4.1")]
pub unsafe fn lerp_u8(blended: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [u8]) {
    let n = out.len();
    let full = n / 4 * 4;
    let half = _mm_set1_ps(0.5);
    let max = _mm_set1_epi32(255);
    let b = blended.as_ptr();
    let mut k = 0;
    while k < full {
        // SAFETY: k + 3 < n for all four slices; indices are in range (caller's contract).
        unsafe {
            let v0 = _mm_setr_ps(
                *b.add(idx0[k] as usize),
                *b.add(idx0[k + 1] as usize),
                *b.add(idx0[k + 2] as usize),
                *b.add(idx0[k + 3] as usize),
            );
            let v1 = _mm_setr_ps(
                *b.add(idx1[k] as usize),
                *b.add(idx1[k + 1] as usize),
                *b.add(idx1[k + 2] as usize),
                *b.add(idx1[k + 3] as usize),
            );
            let t = _mm_loadu_ps(frac.as_ptr().add(k));
            let v = _mm_add_ps(_mm_add_ps(v0, _mm_mul_ps(_mm_sub_ps(v1, v0), t)), half);
            // Truncation as `as u32` does; negatives (a hair below zero) clamp to 0 below.
            let i = _mm_min_epi32(_mm_max_epi32(_mm_cvttps_epi32(v), _mm_setzero_si128()), max);
            let packed = _mm_packus_epi16(_mm_packus_epi32(i, i), _mm_setzero_si128());
            let word = _mm_cvtsi128_si32(packed) as u32;
            out[k..k + 4].copy_from_slice(&word.to_le_bytes());
        }
        k += 4;
    }
    super::scalar::lerp_u8(
        blended,
        &idx0[full..],
        &idx1[full..],
        &frac[full..],
        &mut out[full..],
    );
}

/// See [`super::add_block_sums_u8`]: the whole run in one call, so the short pieces of small
/// blocks pay no per-piece dispatch.
///
/// # Safety
/// The CPU must support SSE4.1.
#[target_feature(enable = "sse4.1")]
pub unsafe fn add_block_sums_u8(
    row: &[u8],
    a: usize,
    b: usize,
    block_w: usize,
    col0: usize,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let mut bx = a / block_w;
    let mut x = a;
    while x < b {
        let end = ((bx + 1) * block_w).min(b);
        // SAFETY: SSE4.1 is enabled for this function.
        sums[bx - col0] += unsafe { sum_u8(&row[x..end]) };
        counts[bx - col0] += (end - x) as u32;
        x = end;
        bx += 1;
    }
}
