//! SSE4.1 kernels (x86-64).

use std::arch::x86_64::*;

use super::{Unknowns, UNKNOWN};

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

/// See [`super::quad_fixed_u8`]; eight at a time (`pmaddubsw` against ones adds each pair of
/// bytes), and the last eight again when the count is not a multiple (the outputs depend on the
/// inputs only).
///
/// # Safety
/// The CPU must support SSE4.1; `a` and `b` must hold `2 * out.len()` bytes.
#[target_feature(enable = "sse4.1")]
pub unsafe fn quad_fixed_u8(a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    let n = out.len();
    let ones = _mm_set1_epi8(1);
    let (pa, pb, dst) = (a.as_ptr(), b.map(|b| b.as_ptr()), out.as_mut_ptr());
    if n < 8 {
        if n < 4 {
            return super::scalar::quad_fixed_u8(a, b, out);
        }
        // Four at a time with 8-byte loads, the last four again.
        let block = |i: usize| {
            // SAFETY: i + 4 <= n, so bytes 2i..2i + 8 of both rows and outputs i..i + 4 are in
            // range; the 8-byte loads and stores touch exactly those.
            unsafe {
                let sums = _mm_maddubs_epi16(_mm_loadl_epi64(pa.add(2 * i).cast()), ones);
                let v = match pb {
                    Some(pb) => _mm_slli_epi16::<2>(_mm_add_epi16(
                        sums,
                        _mm_maddubs_epi16(_mm_loadl_epi64(pb.add(2 * i).cast()), ones),
                    )),
                    None => _mm_slli_epi16::<3>(sums),
                };
                _mm_storel_epi64(dst.add(i).cast(), v);
            }
        };
        block(0);
        return block(n - 4);
    }
    let block = |i: usize| {
        // SAFETY: i + 8 <= n, so bytes 2i..2i + 16 of both rows and outputs i..i + 8 are in
        // range. Sums of four bytes times 4 fit 16 bits.
        unsafe {
            let sums = _mm_maddubs_epi16(_mm_loadu_si128(pa.add(2 * i).cast()), ones);
            let v = match pb {
                Some(pb) => _mm_slli_epi16::<2>(_mm_add_epi16(
                    sums,
                    _mm_maddubs_epi16(_mm_loadu_si128(pb.add(2 * i).cast()), ones),
                )),
                None => _mm_slli_epi16::<3>(sums),
            };
            _mm_storeu_si128(dst.add(i).cast(), v);
        }
    };
    let mut i = 0;
    while i + 8 <= n {
        block(i);
        i += 8;
    }
    if i < n {
        block(n - 8);
    }
}

/// [`super::mean_fixed`] of eight lanes.
///
/// # Safety
/// The CPU must support SSE4.1.
#[inline]
#[target_feature(enable = "sse4.1")]
unsafe fn mean8(sum: __m128i, count: __m128i) -> __m128i {
    let one = _mm_set1_epi16(1);
    let plus_one = _mm_add_epi16(sum, one);
    let mut mean = _mm_srli_epi16::<2>(_mm_add_epi16(sum, _mm_set1_epi16(2)));
    let thirds = _mm_mulhi_epu16(plus_one, _mm_set1_epi16(0x5556));
    mean = _mm_blendv_epi8(mean, thirds, _mm_cmpeq_epi16(count, _mm_set1_epi16(3)));
    mean = _mm_blendv_epi8(
        mean,
        _mm_srli_epi16::<1>(plus_one),
        _mm_cmpeq_epi16(count, _mm_set1_epi16(2)),
    );
    mean = _mm_blendv_epi8(mean, sum, _mm_cmpeq_epi16(count, one));
    // No known child: all ones, UNKNOWN.
    _mm_or_si128(mean, _mm_cmpeq_epi16(count, _mm_setzero_si128()))
}

/// Eight coarse values of [`super::pull_fixed`] from the 16 values at `p0` and (when given)
/// `p1`.
///
/// # Safety
/// The CPU must support SSE4.1; 16 values must be readable at `p0` and `p1`.
#[inline]
#[target_feature(enable = "sse4.1")]
unsafe fn pull8(p0: *const u16, p1: Option<*const u16>) -> __m128i {
    let all = _mm_set1_epi16(-1);
    let (mut sum, mut unknown, mut children) = (_mm_setzero_si128(), _mm_setzero_si128(), 0);
    for p in [Some(p0), p1].into_iter().flatten() {
        // SAFETY: the caller's contract.
        let (a, b) = unsafe { (_mm_loadu_si128(p.cast()), _mm_loadu_si128(p.add(8).cast())) };
        let (ua, ub) = (_mm_cmpeq_epi16(a, all), _mm_cmpeq_epi16(b, all));
        // Known values summed in pairs; unknown ones counted as -1 each.
        sum = _mm_add_epi16(
            sum,
            _mm_hadd_epi16(_mm_andnot_si128(ua, a), _mm_andnot_si128(ub, b)),
        );
        unknown = _mm_add_epi16(unknown, _mm_hadd_epi16(ua, ub));
        children += 2;
    }
    // SAFETY: this function's own contract (SSE4.1).
    unsafe { mean8(sum, _mm_add_epi16(_mm_set1_epi16(children), unknown)) }
}

/// See [`super::pull_fixed`]; eight coarse values at a time, the last 1..7 from copies of the
/// rows padded with unknown values (which add nothing to a sum or a count).
///
/// # Safety
/// The CPU must support SSE4.1; `out` must be `r0.len().div_ceil(2)` long and `r1`, if given, as
/// long as `r0`.
#[target_feature(enable = "sse4.1")]
pub unsafe fn pull_fixed(r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    let (len, n) = (r0.len(), out.len());
    let all = _mm_set1_epi16(-1);
    let mut found = Unknowns::NONE;
    let mut i = 0;
    while i + 8 <= n && 2 * i + 16 <= len {
        // SAFETY: 2i + 15 < len for both rows, i + 7 < n.
        let v = unsafe { pull8(r0.as_ptr().add(2 * i), r1.map(|r| r.as_ptr().add(2 * i))) };
        // SAFETY: as above.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), v) };
        found.add_word_bits(i, _mm_movemask_epi8(_mm_cmpeq_epi16(v, all)) as u32);
        i += 8;
    }
    if i < n {
        let pad = |row: &[u16]| {
            let mut lanes = [UNKNOWN; 16];
            lanes[..len - 2 * i].copy_from_slice(&row[2 * i..]);
            lanes
        };
        let (a, b) = (pad(r0), r1.map(pad));
        // SAFETY: both copies hold 16 values.
        let v = unsafe { pull8(a.as_ptr(), b.as_ref().map(|b| b.as_ptr())) };
        let mut lanes = [0u16; 8];
        // SAFETY: `lanes` is 8 writable values.
        unsafe { _mm_storeu_si128(lanes.as_mut_ptr().cast(), v) };
        out[i..].copy_from_slice(&lanes[..n - i]);
        let bits = _mm_movemask_epi8(_mm_cmpeq_epi16(v, all)) as u32;
        found.add_word_bits(i, bits & ((1 << (2 * (n - i))) - 1));
    }
    found
}

/// Fine samples `2j..2j + 16` of [`super::upsampled_fixed`] plus `bias`, shifted right by
/// `SHIFT`: the eight even ones and the eight odd ones, from the heavier coarse row `h` and the
/// lighter `l`.
///
/// # Safety
/// The CPU must support SSE4.1 and `h` and `l` must each point at `j + 10` readable values.
#[inline]
#[target_feature(enable = "sse4.1")]
unsafe fn upsample8<const SHIFT: i32>(
    (h, l): (*const u16, *const u16),
    j: usize,
    bias: i16,
) -> (__m128i, __m128i) {
    // The blend of the two rows at column j + k, in quarters.
    let blend = |k: usize| {
        // SAFETY: the caller's contract.
        let (hv, lv) = unsafe {
            (
                _mm_loadu_si128(h.add(j + k).cast()),
                _mm_loadu_si128(l.add(j + k).cast()),
            )
        };
        _mm_add_epi16(_mm_add_epi16(_mm_slli_epi16::<1>(hv), hv), lv)
    };
    let (b0, b1, b2) = (blend(0), blend(1), blend(2));
    let (three, bias) = (
        _mm_add_epi16(_mm_slli_epi16::<1>(b1), b1),
        _mm_set1_epi16(bias),
    );
    let even = _mm_srli_epi16::<SHIFT>(_mm_add_epi16(_mm_add_epi16(b0, three), bias));
    let odd = _mm_srli_epi16::<SHIFT>(_mm_add_epi16(_mm_add_epi16(three, b2), bias));
    (even, odd)
}

/// As [`upsample8`] for four pairs, from 8-byte loads (the upper lanes are not used).
///
/// # Safety
/// The CPU must support SSE4.1 and `h` and `l` must each point at `j + 6` readable values.
#[inline]
#[target_feature(enable = "sse4.1")]
unsafe fn upsample4<const SHIFT: i32>(
    (h, l): (*const u16, *const u16),
    j: usize,
    bias: i16,
) -> (__m128i, __m128i) {
    let blend = |k: usize| {
        // SAFETY: the caller's contract: columns j + k..j + k + 4 for k <= 2.
        let (hv, lv) = unsafe {
            (
                _mm_loadl_epi64(h.add(j + k).cast()),
                _mm_loadl_epi64(l.add(j + k).cast()),
            )
        };
        _mm_add_epi16(_mm_add_epi16(_mm_slli_epi16::<1>(hv), hv), lv)
    };
    let (b0, b1, b2) = (blend(0), blend(1), blend(2));
    let (three, bias) = (
        _mm_add_epi16(_mm_slli_epi16::<1>(b1), b1),
        _mm_set1_epi16(bias),
    );
    let even = _mm_srli_epi16::<SHIFT>(_mm_add_epi16(_mm_add_epi16(b0, three), bias));
    let odd = _mm_srli_epi16::<SHIFT>(_mm_add_epi16(_mm_add_epi16(three, b2), bias));
    (even, odd)
}

/// See [`super::push_fixed`]; sixteen fine samples at a time, and the last sixteen again when
/// the count is not a multiple (a sample replaced once is replaced by the same value again).
///
/// # Safety
/// The CPU must support SSE4.1 and `c0` and `c1` must be at least `fine.len() / 2 + 2` long.
#[target_feature(enable = "sse4.1")]
pub unsafe fn push_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    let pairs = fine.len() / 2;
    if pairs < 4 {
        return super::scalar::push_fixed(c0, c1, heavy_first, fine);
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let rows = (rows.0.as_ptr(), rows.1.as_ptr());
    let (dst, all) = (fine.as_mut_ptr(), _mm_set1_epi16(-1));
    if pairs < 8 {
        // Eight fine samples at a time, the last eight again.
        let block = |j: usize| {
            // SAFETY: j + 4 <= pairs, so coarse values j..j + 6 and fine[2j..2j + 8] are in
            // range.
            unsafe {
                let (even, odd) = upsample4::<4>(rows, j, 8);
                let f = _mm_loadu_si128(dst.add(2 * j).cast());
                let up = _mm_unpacklo_epi16(even, odd);
                let v = _mm_blendv_epi8(f, up, _mm_cmpeq_epi16(f, all));
                _mm_storeu_si128(dst.add(2 * j).cast(), v);
            }
        };
        block(0);
        block(pairs - 4);
    }
    let block = |j: usize| {
        // SAFETY: j + 8 <= pairs, so coarse values j..j + 10 and fine[2j..2j + 16] are in range.
        unsafe {
            let (even, odd) = upsample8::<4>(rows, j, 8);
            for (k, up) in [
                (2 * j, _mm_unpacklo_epi16(even, odd)),
                (2 * j + 8, _mm_unpackhi_epi16(even, odd)),
            ] {
                let f = _mm_loadu_si128(dst.add(k).cast());
                let v = _mm_blendv_epi8(f, up, _mm_cmpeq_epi16(f, all));
                _mm_storeu_si128(dst.add(k).cast(), v);
            }
        }
    };
    let mut j = 0;
    while j + 8 <= pairs {
        block(j);
        j += 8;
    }
    if j < pairs && pairs >= 8 {
        block(pairs - 8);
    }
    let x = 2 * pairs;
    if fine.len() > x && fine[x] == UNKNOWN {
        fine[x] = super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(8) >> 4;
    }
}

/// See [`super::write_fixed_u8`]; sixteen samples at a time (each 16-bit lane an even sample
/// and the odd one after it), and the last sixteen again when the count is not a multiple (the
/// outputs depend on the coarse rows only).
///
/// # Safety
/// The CPU must support SSE4.1 and `c0` and `c1` must be at least `out.len() / 2 + 2` long.
#[target_feature(enable = "sse4.1")]
pub unsafe fn write_fixed_u8(c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    let pairs = out.len() / 2;
    if pairs < 4 {
        return super::scalar::write_fixed_u8(c0, c1, heavy_first, out);
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let rows = (rows.0.as_ptr(), rows.1.as_ptr());
    let dst = out.as_mut_ptr();
    if pairs < 8 {
        // Eight samples at a time, the last eight again.
        let block = |j: usize| {
            // SAFETY: j + 4 <= pairs, so coarse values j..j + 6 and out[2j..2j + 8] are in
            // range; the 8-byte store writes exactly those.
            unsafe {
                let (even, odd) = upsample4::<8>(rows, j, 128);
                let bytes = _mm_or_si128(even, _mm_slli_epi16::<8>(odd));
                _mm_storel_epi64(dst.add(2 * j).cast(), bytes);
            }
        };
        block(0);
        block(pairs - 4);
    }
    let block = |j: usize| {
        // SAFETY: j + 8 <= pairs, so coarse values j..j + 10 and out[2j..2j + 16] are in range;
        // the values are below 256 after the shift.
        unsafe {
            let (even, odd) = upsample8::<8>(rows, j, 128);
            let bytes = _mm_or_si128(even, _mm_slli_epi16::<8>(odd));
            _mm_storeu_si128(dst.add(2 * j).cast(), bytes);
        }
    };
    let mut j = 0;
    while j + 8 <= pairs {
        block(j);
        j += 8;
    }
    if j < pairs && pairs >= 8 {
        block(pairs - 8);
    }
    if out.len() % 2 == 1 {
        let x = 2 * pairs;
        out[x] =
            (super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(128) >> 8) as u8;
    }
}
