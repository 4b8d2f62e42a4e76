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

/// See [`super::add_u8_to_u16`]; thirty-two bytes at a time.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn add_u8_to_u16(acc: &mut [u16], src: &[u8]) {
    let n = acc.len().min(src.len());
    let full = n / 32 * 32;
    let (a, s) = (acc.as_mut_ptr(), src.as_ptr());
    let mut k = 0;
    while k < full {
        // SAFETY: k + 31 < n for both slices; unaligned loads and stores are allowed.
        unsafe {
            for j in [k, k + 16] {
                let v = _mm256_cvtepu8_epi16(_mm_loadu_si128(s.add(j).cast()));
                let sum = _mm256_add_epi16(_mm256_loadu_si256(a.add(j).cast()), v);
                _mm256_storeu_si256(a.add(j).cast(), sum);
            }
        }
        k += 32;
    }
    // SAFETY: AVX2 implies SSE4.1.
    unsafe { super::sse41::add_u8_to_u16(&mut acc[full..n], &src[full..n]) };
}

/// See [`super::lerp_rows_u8`]; sixteen samples at a time, and the last 16 again when the length
/// is not a multiple (the outputs depend on `r0` and `r1` only, so samples written twice get the
/// same value).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn lerp_rows_u8(r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    let n = out.len().min(r0.len()).min(r1.len());
    if n < 16 {
        // SAFETY: AVX2 implies SSE4.1.
        return unsafe { super::sse41::lerp_rows_u8(&r0[..n], &r1[..n], t, &mut out[..n]) };
    }
    let (half, tv) = (_mm256_set1_ps(0.5), _mm256_set1_ps(t));
    let (zero, max) = (_mm256_setzero_si256(), _mm256_set1_epi32(255));
    let (p0, p1, dst) = (r0.as_ptr(), r1.as_ptr(), out.as_mut_ptr());
    // Samples k..k + 16; callers keep k + 16 <= n.
    let block = |k: usize| {
        // SAFETY: k + 15 < n for the three slices (see above).
        unsafe {
            let conv = |j: usize| {
                let v0 = _mm256_loadu_ps(p0.add(j));
                let v1 = _mm256_loadu_ps(p1.add(j));
                let v = _mm256_add_ps(
                    _mm256_add_ps(v0, _mm256_mul_ps(_mm256_sub_ps(v1, v0), tv)),
                    half,
                );
                // Truncation as `as u32` does; negatives (a hair below zero) clamp to 0.
                _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(v), zero), max)
            };
            // Packing works within 128-bit lanes: a, b -> a0 b0 a1 b1 (as 4-word groups), so
            // reorder the 64-bit quarters before narrowing to bytes.
            let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(
                conv(k),
                conv(k + 8),
            ));
            let bytes = _mm_packus_epi16(
                _mm256_castsi256_si128(words),
                _mm256_extracti128_si256::<1>(words),
            );
            _mm_storeu_si128(dst.add(k).cast(), bytes);
        }
    };
    let mut k = 0;
    while k + 16 <= n {
        block(k);
        k += 16;
    }
    if k < n {
        block(n - 16);
    }
}

/// See [`super::weighted_rows`]; eight outputs at a time, summed in a register tap after tap (a
/// multiply then an add, never fused: each lane is the scalar result bit for bit).
///
/// # Safety
/// The CPU must support AVX2, and every row must be at least `out.len()` long.
#[target_feature(enable = "avx2")]
pub unsafe fn weighted_rows(taps: &[(f32, &[f32])], out: &mut [f32]) {
    let n = out.len();
    let full = n / 8 * 8;
    let mut x = 0;
    while x < full {
        let mut acc = _mm256_setzero_ps();
        for &(k, row) in taps {
            // SAFETY: x + 7 < n <= row.len() (the caller's contract).
            let v = unsafe { _mm256_loadu_ps(row.as_ptr().add(x)) };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(k), v));
        }
        // SAFETY: x + 7 < n.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(x), acc) };
        x += 8;
    }
    if full < n {
        // The last 1..7 outputs with masked loads and stores: lanes past the end are neither read
        // nor written.
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((n - full) as i32), lane);
        let mut acc = _mm256_setzero_ps();
        for &(k, row) in taps {
            // SAFETY: only the lanes below n - full are read, all inside `row`.
            let v = unsafe { _mm256_maskload_ps(row.as_ptr().add(full), mask) };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(k), v));
        }
        // SAFETY: only the lanes below n - full are written, all inside `out`.
        unsafe { _mm256_maskstore_ps(out.as_mut_ptr().add(full), mask, acc) };
    }
}

/// See [`super::lerp_gather`]; eight at a time with gathers, and the last eight again when the
/// length is not a multiple (the outputs depend on the inputs only, so values written twice are
/// the same).
///
/// # Safety
/// The CPU must support AVX2; `idx0`, `idx1` and `frac` must be at least `out.len()` long and
/// every index below `row.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn lerp_gather(row: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [f32]) {
    let n = out.len();
    if n < 8 {
        return super::scalar::lerp_gather(row, idx0, idx1, frac, out);
    }
    let base = row.as_ptr();
    // Outputs k..k + 8; callers keep k + 8 <= n.
    let block = |k: usize, out: &mut [f32]| {
        // SAFETY: k + 7 < n for the four slices; the indices are in range (the caller's
        // contract), so the gathers read inside `row`.
        unsafe {
            let i0 = _mm256_loadu_si256(idx0.as_ptr().add(k).cast());
            let i1 = _mm256_loadu_si256(idx1.as_ptr().add(k).cast());
            let v0 = _mm256_i32gather_ps::<4>(base, i0);
            let v1 = _mm256_i32gather_ps::<4>(base, i1);
            let t = _mm256_loadu_ps(frac.as_ptr().add(k));
            let v = _mm256_add_ps(v0, _mm256_mul_ps(_mm256_sub_ps(v1, v0), t));
            _mm256_storeu_ps(out.as_mut_ptr().add(k), v);
        }
    };
    let mut k = 0;
    while k + 8 <= n {
        block(k, out);
        k += 8;
    }
    if k < n {
        block(n - 8, out);
    }
}
