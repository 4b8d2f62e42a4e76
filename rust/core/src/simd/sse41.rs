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

/// See [`super::add_u8_to_u16`]; sixteen bytes at a time, widened in two halves.
///
/// # Safety
/// The CPU must support SSE4.1.
#[target_feature(enable = "sse4.1")]
pub unsafe fn add_u8_to_u16(acc: &mut [u16], src: &[u8]) {
    let n = acc.len().min(src.len());
    let full = n / 16 * 16;
    let zero = _mm_setzero_si128();
    let (a, s) = (acc.as_mut_ptr(), src.as_ptr());
    let mut k = 0;
    while k < full {
        // SAFETY: k + 15 < n for both slices; unaligned loads and stores are allowed.
        unsafe {
            let v = _mm_loadu_si128(s.add(k).cast());
            let lo = _mm_add_epi16(_mm_loadu_si128(a.add(k).cast()), _mm_cvtepu8_epi16(v));
            let hi = _mm_add_epi16(
                _mm_loadu_si128(a.add(k + 8).cast()),
                _mm_unpackhi_epi8(v, zero),
            );
            _mm_storeu_si128(a.add(k).cast(), lo);
            _mm_storeu_si128(a.add(k + 8).cast(), hi);
        }
        k += 16;
    }
    super::scalar::add_u8_to_u16(&mut acc[full..n], &src[full..n]);
}

/// See [`super::lerp_rows_u8`]; eight samples at a time.
///
/// # Safety
/// The CPU must support SSE4.1.
#[target_feature(enable = "sse4.1")]
pub unsafe fn lerp_rows_u8(r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    let n = out.len().min(r0.len()).min(r1.len());
    let full = n / 8 * 8;
    let (half, tv, zero) = (_mm_set1_ps(0.5), _mm_set1_ps(t), _mm_setzero_si128());
    let max = _mm_set1_epi32(255);
    let mut k = 0;
    while k < full {
        // SAFETY: k + 7 < n for the three slices.
        unsafe {
            let conv = |j: usize| {
                let v0 = _mm_loadu_ps(r0.as_ptr().add(j));
                let v1 = _mm_loadu_ps(r1.as_ptr().add(j));
                let v = _mm_add_ps(_mm_add_ps(v0, _mm_mul_ps(_mm_sub_ps(v1, v0), tv)), half);
                // Truncation as `as u32` does; negatives (a hair below zero) clamp to 0.
                _mm_min_epi32(_mm_max_epi32(_mm_cvttps_epi32(v), zero), max)
            };
            let words = _mm_packus_epi32(conv(k), conv(k + 4));
            let bytes = _mm_packus_epi16(words, zero);
            _mm_storel_epi64(out.as_mut_ptr().add(k).cast(), bytes);
        }
        k += 8;
    }
    super::scalar::lerp_rows_u8(&r0[full..n], &r1[full..n], t, &mut out[full..n]);
}
