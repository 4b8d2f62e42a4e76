//! AVX2 kernels (x86-64).

use std::arch::x86_64::*;

/// Sum of the bytes, 32 at a time with `vpsadbw`.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn sum_u8(data: &[u8]) -> u64 {
    let chunks = data.chunks_exact(32);
    let tail = chunks.remainder();
    let zero = _mm256_setzero_si256();
    let mut acc = _mm256_setzero_si256();
    for c in chunks {
        // SAFETY: `c` is 32 readable bytes; unaligned loads are allowed.
        let v = unsafe { _mm256_loadu_si256(c.as_ptr().cast()) };
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
    }
    let mut lanes = [0u64; 4];
    // SAFETY: `lanes` is 32 writable bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
    // Mosaic blocks and blur cells hand over short runs: finish 16 and 8 at a time.
    // SAFETY: AVX2 implies SSE4.1.
    lanes.iter().sum::<u64>() + unsafe { super::sse41::sum_u8(tail) }
}

/// See [`super::lerp_u8`]; eight samples at a time with gathers.
///
/// # Safety
/// The CPU must support AVX2, and every index must be below `blended.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn lerp_u8(blended: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [u8]) {
    let n = out.len();
    let full = n / 8 * 8;
    let half = _mm256_set1_ps(0.5);
    let max = _mm256_set1_epi32(255);
    let b = blended.as_ptr();
    let mut k = 0;
    while k < full {
        // SAFETY: k + 7 < n for all four slices; indices are in range (caller's contract), so
        // the gathers read inside `blended`.
        unsafe {
            let i0 = _mm256_loadu_si256(idx0.as_ptr().add(k).cast());
            let i1 = _mm256_loadu_si256(idx1.as_ptr().add(k).cast());
            let v0 = _mm256_i32gather_ps::<4>(b, i0);
            let v1 = _mm256_i32gather_ps::<4>(b, i1);
            let t = _mm256_loadu_ps(frac.as_ptr().add(k));
            let v = _mm256_add_ps(
                _mm256_add_ps(v0, _mm256_mul_ps(_mm256_sub_ps(v1, v0), t)),
                half,
            );
            let i = _mm256_min_epi32(
                _mm256_max_epi32(_mm256_cvttps_epi32(v), _mm256_setzero_si256()),
                max,
            );
            // Narrow 8 x i32 to 8 bytes: pack within lanes, then take the low 4 bytes of each lane.
            let lo = _mm256_castsi256_si128(i);
            let hi = _mm256_extracti128_si256::<1>(i);
            let words = _mm_packus_epi32(lo, hi);
            let bytes = _mm_packus_epi16(words, _mm_setzero_si128());
            _mm_storel_epi64(out.as_mut_ptr().add(k).cast(), bytes);
        }
        k += 8;
    }
    super::scalar::lerp_u8(
        blended,
        &idx0[full..],
        &idx1[full..],
        &frac[full..],
        &mut out[full..],
    );
}
