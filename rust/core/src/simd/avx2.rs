//! AVX2 kernels (x86-64).

use std::arch::x86_64::*;

use super::{Unknowns, UNKNOWN};

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

/// See [`super::quad_fixed_u8`]; sixteen at a time (`vpmaddubsw` against ones adds each pair
/// of bytes), and the last sixteen again when the count is not a multiple (the outputs depend on
/// the inputs only).
///
/// # Safety
/// The CPU must support AVX2; `a` and `b` must hold `2 * out.len()` bytes.
#[target_feature(enable = "avx2")]
pub unsafe fn quad_fixed_u8(a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    let n = out.len();
    if n < 16 {
        // SAFETY: AVX2 implies SSE4.1; the same contract.
        return unsafe { super::sse41::quad_fixed_u8(a, b, out) };
    }
    let ones = _mm256_set1_epi8(1);
    let (pa, pb, dst) = (a.as_ptr(), b.map(|b| b.as_ptr()), out.as_mut_ptr());
    let block = |i: usize| {
        // SAFETY: i + 16 <= n, so bytes 2i..2i + 32 of both rows and outputs i..i + 16 are in
        // range. Sums of four bytes times 4 fit 16 bits.
        unsafe {
            let sums = _mm256_maddubs_epi16(_mm256_loadu_si256(pa.add(2 * i).cast()), ones);
            let v = match pb {
                Some(pb) => _mm256_slli_epi16::<2>(_mm256_add_epi16(
                    sums,
                    _mm256_maddubs_epi16(_mm256_loadu_si256(pb.add(2 * i).cast()), ones),
                )),
                None => _mm256_slli_epi16::<3>(sums),
            };
            _mm256_storeu_si256(dst.add(i).cast(), v);
        }
    };
    let mut i = 0;
    while i + 16 <= n {
        block(i);
        i += 16;
    }
    if i < n {
        block(n - 16);
    }
}

/// [`super::mean_fixed`] of sixteen lanes.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn mean16(sum: __m256i, count: __m256i) -> __m256i {
    let one = _mm256_set1_epi16(1);
    let plus_one = _mm256_add_epi16(sum, one);
    let mut mean = _mm256_srli_epi16::<2>(_mm256_add_epi16(sum, _mm256_set1_epi16(2)));
    let thirds = _mm256_mulhi_epu16(plus_one, _mm256_set1_epi16(0x5556));
    mean = _mm256_blendv_epi8(
        mean,
        thirds,
        _mm256_cmpeq_epi16(count, _mm256_set1_epi16(3)),
    );
    mean = _mm256_blendv_epi8(
        mean,
        _mm256_srli_epi16::<1>(plus_one),
        _mm256_cmpeq_epi16(count, _mm256_set1_epi16(2)),
    );
    mean = _mm256_blendv_epi8(mean, sum, _mm256_cmpeq_epi16(count, one));
    // No known child: all ones, UNKNOWN.
    _mm256_or_si256(mean, _mm256_cmpeq_epi16(count, _mm256_setzero_si256()))
}

/// Sixteen coarse values of [`super::pull_fixed`] from the 32 values at `p0` and (when given)
/// `p1`. The pair sums within 128-bit halves leave the outputs in the order 0-3 8-11 4-7 12-15,
/// put right once, at the end.
///
/// # Safety
/// The CPU must support AVX2; 32 values must be readable at `p0` and `p1`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pull16(p0: *const u16, p1: Option<*const u16>) -> __m256i {
    let all = _mm256_set1_epi16(-1);
    let zero = _mm256_setzero_si256();
    let (mut sum, mut unknown, mut children) = (zero, zero, 0);
    for p in [Some(p0), p1].into_iter().flatten() {
        // SAFETY: the caller's contract.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(p.cast()),
                _mm256_loadu_si256(p.add(16).cast()),
            )
        };
        let (ua, ub) = (_mm256_cmpeq_epi16(a, all), _mm256_cmpeq_epi16(b, all));
        // Known values summed in pairs; unknown ones counted as -1 each.
        sum = _mm256_add_epi16(
            sum,
            _mm256_hadd_epi16(_mm256_andnot_si256(ua, a), _mm256_andnot_si256(ub, b)),
        );
        unknown = _mm256_add_epi16(unknown, _mm256_hadd_epi16(ua, ub));
        children += 2;
    }
    // SAFETY: this function's own contract (AVX2).
    let mean = unsafe { mean16(sum, _mm256_add_epi16(_mm256_set1_epi16(children), unknown)) };
    _mm256_permute4x64_epi64::<0b11_01_10_00>(mean)
}

/// See [`super::pull_fixed`]; sixteen coarse values at a time, the last 1..15 from copies of the
/// rows padded with unknown values (which add nothing to a sum or a count).
///
/// # Safety
/// The CPU must support AVX2; `out` must be `r0.len().div_ceil(2)` long and `r1`, if given, as
/// long as `r0`.
#[target_feature(enable = "avx2")]
pub unsafe fn pull_fixed(r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    let (len, n) = (r0.len(), out.len());
    let all = _mm256_set1_epi16(-1);
    let mut found = Unknowns::NONE;
    let mut i = 0;
    while i + 16 <= n && 2 * i + 32 <= len {
        // SAFETY: 2i + 31 < len for both rows, i + 15 < n.
        let v = unsafe { pull16(r0.as_ptr().add(2 * i), r1.map(|r| r.as_ptr().add(2 * i))) };
        // SAFETY: as above.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), v) };
        found.add_word_bits(i, _mm256_movemask_epi8(_mm256_cmpeq_epi16(v, all)) as u32);
        i += 16;
    }
    if i < n {
        let pad = |row: &[u16]| {
            let mut lanes = [UNKNOWN; 32];
            lanes[..len - 2 * i].copy_from_slice(&row[2 * i..]);
            lanes
        };
        let (a, b) = (pad(r0), r1.map(pad));
        // SAFETY: both copies hold 32 values.
        let v = unsafe { pull16(a.as_ptr(), b.as_ref().map(|b| b.as_ptr())) };
        let mut lanes = [0u16; 16];
        // SAFETY: `lanes` is 16 writable values.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
        out[i..].copy_from_slice(&lanes[..n - i]);
        let bits = _mm256_movemask_epi8(_mm256_cmpeq_epi16(v, all)) as u32;
        found.add_word_bits(i, bits & (u32::MAX >> (32 - 2 * (n - i))));
    }
    found
}

/// The blend of the heavier coarse row `h` and the lighter `l` in quarters (`3 * h + l`) at the
/// sixteen columns from `k` on.
///
/// # Safety
/// The CPU must support AVX2 and `h` and `l` must each point at `k + 16` readable values.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn blend16((h, l): (*const u16, *const u16), k: usize) -> __m256i {
    // SAFETY: the caller's contract.
    let (hv, lv) = unsafe {
        (
            _mm256_loadu_si256(h.add(k).cast()),
            _mm256_loadu_si256(l.add(k).cast()),
        )
    };
    _mm256_add_epi16(_mm256_add_epi16(_mm256_slli_epi16::<1>(hv), hv), lv)
}

/// Fine samples `2j..2j + 32` of [`super::upsampled_fixed`] plus `bias`, shifted right by
/// `SHIFT`: the sixteen even ones and the sixteen odd ones, from the blends at columns `j..j +
/// 16` (`b0`) and `j + 16..j + 32` (`next`, of which only the first two matter).
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn upsample16<const SHIFT: i32>(
    b0: __m256i,
    next: __m256i,
    bias: i16,
) -> (__m256i, __m256i) {
    // The blends one and two columns on: shifts across the 128-bit halves, through the upper
    // half of `b0` and the lower half of `next`.
    let across = _mm256_permute2x128_si256::<0x21>(b0, next);
    let (b1, b2) = (
        _mm256_alignr_epi8::<2>(across, b0),
        _mm256_alignr_epi8::<4>(across, b0),
    );
    let three = _mm256_add_epi16(_mm256_slli_epi16::<1>(b1), b1);
    let bias = _mm256_set1_epi16(bias);
    let even = _mm256_srli_epi16::<SHIFT>(_mm256_add_epi16(_mm256_add_epi16(b0, three), bias));
    let odd = _mm256_srli_epi16::<SHIFT>(_mm256_add_epi16(_mm256_add_epi16(three, b2), bias));
    (even, odd)
}

/// Runs `block(j, b0, next)` for the blocks of sixteen pairs `j..j + 16` of a row of `pairs`
/// pairs (at least 16) over coarse rows of at least `pairs + 2` values, with the blends `b0` at
/// columns `j..` and `next` at `j + 16..` ([`upsample16`]): each blend is worked out once while
/// a whole next block can be read, then from the two columns after the block alone, and the
/// last sixteen pairs again when the count is not a multiple.
///
/// # Safety
/// The CPU must support AVX2 and both coarse rows must hold `pairs + 2` values.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn for_blocks16(
    rows: (*const u16, *const u16),
    pairs: usize,
    mut block: impl FnMut(usize, __m256i, __m256i),
) {
    // The blend at columns j and j + 1 alone, as the first lanes of a vector (the others 0).
    let tail = |j: usize| {
        // SAFETY: j + 2 <= pairs + 2 (the caller's contract); the loads are two values each.
        unsafe {
            let h = _mm_loadu_si32(rows.0.add(j).cast());
            let l = _mm_loadu_si32(rows.1.add(j).cast());
            let v = _mm_add_epi16(_mm_add_epi16(_mm_slli_epi16::<1>(h), h), l);
            _mm256_zextsi128_si256(v)
        }
    };
    let mut j = 0;
    // SAFETY: 16 <= pairs, so columns 0..16 are in range.
    let mut b0 = unsafe { blend16(rows, 0) };
    while j + 32 <= pairs + 2 {
        // SAFETY: columns j + 16..j + 32 are in range.
        let next = unsafe { blend16(rows, j + 16) };
        block(j, b0, next);
        (b0, j) = (next, j + 16);
    }
    while j + 16 <= pairs {
        block(j, b0, tail(j + 16));
        j += 16;
        if j + 16 <= pairs {
            // SAFETY: columns j..j + 16 are in range.
            b0 = unsafe { blend16(rows, j) };
        }
    }
    if j < pairs {
        let j = pairs - 16;
        // SAFETY: columns j..j + 16 are in range.
        block(j, unsafe { blend16(rows, j) }, tail(j + 16));
    }
}

/// See [`super::push_fixed`]; thirty-two fine samples at a time (interleaved within 128-bit
/// halves, then the halves put in order), and the last thirty-two again when the count is not a
/// multiple (a sample replaced once is replaced by the same value again).
///
/// # Safety
/// The CPU must support AVX2 and `c0` and `c1` must be at least `fine.len() / 2 + 2` long.
#[target_feature(enable = "avx2")]
pub unsafe fn push_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    let pairs = fine.len() / 2;
    if pairs < 16 {
        // SAFETY: AVX2 implies SSE4.1; the same contract.
        return unsafe { super::sse41::push_fixed(c0, c1, heavy_first, fine) };
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let (dst, all) = (fine.as_mut_ptr(), _mm256_set1_epi16(-1));
    let block = |j: usize, b0: __m256i, next: __m256i| {
        // SAFETY: j + 16 <= pairs, so fine[2j..2j + 32] is in range.
        unsafe {
            let (even, odd) = upsample16::<4>(b0, next, 8);
            let (lo, hi) = (
                _mm256_unpacklo_epi16(even, odd),
                _mm256_unpackhi_epi16(even, odd),
            );
            for (k, up) in [
                (2 * j, _mm256_permute2x128_si256::<0x20>(lo, hi)),
                (2 * j + 16, _mm256_permute2x128_si256::<0x31>(lo, hi)),
            ] {
                let f = _mm256_loadu_si256(dst.add(k).cast());
                let v = _mm256_blendv_epi8(f, up, _mm256_cmpeq_epi16(f, all));
                _mm256_storeu_si256(dst.add(k).cast(), v);
            }
        }
    };
    // SAFETY: AVX2; the coarse rows hold pairs + 2 values (this function's contract).
    unsafe { for_blocks16((rows.0.as_ptr(), rows.1.as_ptr()), pairs, block) };
    let x = 2 * pairs;
    if fine.len() > x && fine[x] == UNKNOWN {
        fine[x] = super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(8) >> 4;
    }
}

/// See [`super::write_fixed_u8`]; thirty-two samples at a time (each 16-bit lane an even sample
/// and the odd one after it), and the last thirty-two again when the count is not a multiple
/// (the outputs depend on the coarse rows only).
///
/// # Safety
/// The CPU must support AVX2 and `c0` and `c1` must be at least `out.len() / 2 + 2` long.
#[target_feature(enable = "avx2")]
pub unsafe fn write_fixed_u8(c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    let pairs = out.len() / 2;
    if pairs < 16 {
        // SAFETY: AVX2 implies SSE4.1; the same contract.
        return unsafe { super::sse41::write_fixed_u8(c0, c1, heavy_first, out) };
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let dst = out.as_mut_ptr();
    let block = |j: usize, b0: __m256i, next: __m256i| {
        // SAFETY: j + 16 <= pairs, so out[2j..2j + 32] is in range; the values are below 256
        // after the shift.
        unsafe {
            let (even, odd) = upsample16::<8>(b0, next, 128);
            let bytes = _mm256_or_si256(even, _mm256_slli_epi16::<8>(odd));
            _mm256_storeu_si256(dst.add(2 * j).cast(), bytes);
        }
    };
    // SAFETY: AVX2; the coarse rows hold pairs + 2 values (this function's contract).
    unsafe { for_blocks16((rows.0.as_ptr(), rows.1.as_ptr()), pairs, block) };
    if out.len() % 2 == 1 {
        let x = 2 * pairs;
        out[x] =
            (super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(128) >> 8) as u8;
    }
}
