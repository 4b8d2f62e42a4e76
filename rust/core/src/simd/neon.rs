//! NEON kernels (aarch64).
//!
//! NEON (Advanced SIMD) is part of the aarch64 baseline, so every aarch64 CPU has it; the level
//! is still picked by run-time detection like the x86 ones, and `PRIVMASK_SIMD=scalar` still
//! selects the reference. Floating-point lanes use a separate multiply and add, never the fused
//! `fmla`, and aarch64's vector unit follows the same FPCR rounding and denormal settings as its
//! scalar unit: each lane is the scalar result bit for bit.

use std::arch::aarch64::*;

use super::{Unknowns, UNKNOWN};

/// Sum of the bytes, 32 at a time: pairwise widening adds into 16-bit lanes (`uadalp`), folded
/// into 64-bit lanes before they can overflow.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn sum_u8(data: &[u8]) -> u64 {
    // Each 16-bit lane takes two bytes per 16-byte vector, at most 510 a step: 128 steps fit.
    const STEPS: usize = 128;
    let mut total = vdupq_n_u64(0);
    let mut blocks = data.chunks_exact(32 * STEPS);
    let fold = |total: uint64x2_t, a: uint16x8_t, b: uint16x8_t| {
        vpadalq_u32(total, vaddq_u32(vpaddlq_u16(a), vpaddlq_u16(b)))
    };
    for block in blocks.by_ref() {
        let (mut a, mut b) = (vdupq_n_u16(0), vdupq_n_u16(0));
        for c in block.chunks_exact(32) {
            // SAFETY: `c` is 32 readable bytes; NEON loads need no alignment.
            let (va, vb) = unsafe { (vld1q_u8(c.as_ptr()), vld1q_u8(c.as_ptr().add(16))) };
            a = vpadalq_u8(a, va);
            b = vpadalq_u8(b, vb);
        }
        total = fold(total, a, b);
    }
    // Fewer than STEPS chunks of 32 are left, then fewer than 32 bytes.
    let chunks = blocks.remainder().chunks_exact(32);
    let mut rest = chunks.remainder();
    let (mut a, mut b) = (vdupq_n_u16(0), vdupq_n_u16(0));
    for c in chunks {
        // SAFETY: `c` is 32 readable bytes.
        let (va, vb) = unsafe { (vld1q_u8(c.as_ptr()), vld1q_u8(c.as_ptr().add(16))) };
        a = vpadalq_u8(a, va);
        b = vpadalq_u8(b, vb);
    }
    let mut sum = vaddvq_u64(fold(total, a, b));
    // Mosaic blocks and blur cells hand over short runs: finish 16 and 8 at a time.
    if rest.len() >= 16 {
        // SAFETY: at least 16 readable bytes.
        sum += u64::from(vaddlvq_u8(unsafe { vld1q_u8(rest.as_ptr()) }));
        rest = &rest[16..];
    }
    if rest.len() >= 8 {
        // SAFETY: at least 8 readable bytes; `vld1_u8` reads exactly 8.
        sum += u64::from(vaddlv_u8(unsafe { vld1_u8(rest.as_ptr()) }));
        rest = &rest[8..];
    }
    sum + rest.iter().map(|&v| u64::from(v)).sum::<u64>()
}

/// See [`super::add_u8_to_u16`]; sixteen bytes at a time, widened and added in two halves
/// (`uaddw`, `uaddw2`, wrapping like the scalar `wrapping_add`).
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn add_u8_to_u16(acc: &mut [u16], src: &[u8]) {
    let n = acc.len().min(src.len());
    let full = n / 16 * 16;
    let (a, s) = (acc.as_mut_ptr(), src.as_ptr());
    let mut k = 0;
    while k < full {
        // SAFETY: k + 15 < n for both slices; NEON loads and stores need no alignment.
        unsafe {
            let v = vld1q_u8(s.add(k));
            let lo = vaddw_u8(vld1q_u16(a.add(k)), vget_low_u8(v));
            let hi = vaddw_high_u8(vld1q_u16(a.add(k + 8)), v);
            vst1q_u16(a.add(k), lo);
            vst1q_u16(a.add(k + 8), hi);
        }
        k += 16;
    }
    if n - full >= 8 {
        // SAFETY: full + 7 < n for both slices; `vld1_u8` reads exactly 8 bytes.
        unsafe {
            let v = vld1_u8(s.add(full));
            vst1q_u16(a.add(full), vaddw_u8(vld1q_u16(a.add(full)), v));
        }
        let done = full + 8;
        return super::scalar::add_u8_to_u16(&mut acc[done..n], &src[done..n]);
    }
    super::scalar::add_u8_to_u16(&mut acc[full..n], &src[full..n]);
}

/// Four samples of [`super::lerp_rows_u8`] as 32-bit lanes: `r0 + (r1 - r0) * t + 0.5`,
/// truncated and clamped to 0..=255.
///
/// # Safety
/// The CPU must support NEON and `p0`, `p1` must each point at 4 readable `f32`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn lerp4(p0: *const f32, p1: *const f32, t: float32x4_t, half: float32x4_t) -> uint32x4_t {
    // SAFETY: the caller's contract.
    let (v0, v1) = unsafe { (vld1q_f32(p0), vld1q_f32(p1)) };
    let v = vaddq_f32(vaddq_f32(v0, vmulq_f32(vsubq_f32(v1, v0), t)), half);
    // `fcvtzu` truncates and saturates as `as u32` does: negatives and NaN to 0.
    vminq_u32(vcvtq_u32_f32(v), vdupq_n_u32(255))
}

/// See [`super::lerp_rows_u8`]; sixteen samples at a time, then eight, then one by one.
///
/// # Safety
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub unsafe fn lerp_rows_u8(r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    let n = out.len().min(r0.len()).min(r1.len());
    let (tv, half) = (vdupq_n_f32(t), vdupq_n_f32(0.5));
    let (p0, p1, dst) = (r0.as_ptr(), r1.as_ptr(), out.as_mut_ptr());
    let mut k = 0;
    while k + 16 <= n {
        // SAFETY: k + 15 < n for the three slices; the lanes are at most 255, so narrowing
        // keeps them.
        unsafe {
            let w0 = vcombine_u16(
                vmovn_u32(lerp4(p0.add(k), p1.add(k), tv, half)),
                vmovn_u32(lerp4(p0.add(k + 4), p1.add(k + 4), tv, half)),
            );
            let w1 = vcombine_u16(
                vmovn_u32(lerp4(p0.add(k + 8), p1.add(k + 8), tv, half)),
                vmovn_u32(lerp4(p0.add(k + 12), p1.add(k + 12), tv, half)),
            );
            vst1q_u8(dst.add(k), vcombine_u8(vmovn_u16(w0), vmovn_u16(w1)));
        }
        k += 16;
    }
    if k + 8 <= n {
        // SAFETY: k + 7 < n for the three slices; `vst1_u8` writes exactly 8 bytes.
        unsafe {
            let w = vcombine_u16(
                vmovn_u32(lerp4(p0.add(k), p1.add(k), tv, half)),
                vmovn_u32(lerp4(p0.add(k + 4), p1.add(k + 4), tv, half)),
            );
            vst1_u8(dst.add(k), vmovn_u16(w));
        }
        k += 8;
    }
    super::scalar::lerp_rows_u8(&r0[k..n], &r1[k..n], t, &mut out[k..n]);
}

/// See [`super::weighted_rows`]; sixteen outputs at a time in four registers (independent add
/// chains), then four, then one by one. Each tap is a multiply then an add, never fused: each
/// lane is the scalar result bit for bit.
///
/// # Safety
/// The CPU must support NEON, and every row must be at least `out.len()` long.
#[target_feature(enable = "neon")]
pub unsafe fn weighted_rows(taps: &[(f32, &[f32])], out: &mut [f32]) {
    let n = out.len();
    let dst = out.as_mut_ptr();
    let mut x = 0;
    while x + 16 <= n {
        let mut acc = [vdupq_n_f32(0.0); 4];
        for &(k, row) in taps {
            let kv = vdupq_n_f32(k);
            for (j, a) in acc.iter_mut().enumerate() {
                // SAFETY: x + 15 < n <= row.len() (the caller's contract).
                let v = unsafe { vld1q_f32(row.as_ptr().add(x + 4 * j)) };
                *a = vaddq_f32(*a, vmulq_f32(kv, v));
            }
        }
        for (j, a) in acc.into_iter().enumerate() {
            // SAFETY: x + 15 < n.
            unsafe { vst1q_f32(dst.add(x + 4 * j), a) };
        }
        x += 16;
    }
    while x + 4 <= n {
        let mut acc = vdupq_n_f32(0.0);
        for &(k, row) in taps {
            // SAFETY: x + 3 < n <= row.len() (the caller's contract).
            let v = unsafe { vld1q_f32(row.as_ptr().add(x)) };
            acc = vaddq_f32(acc, vmulq_f32(vdupq_n_f32(k), v));
        }
        // SAFETY: x + 3 < n.
        unsafe { vst1q_f32(dst.add(x), acc) };
        x += 4;
    }
    if x < n {
        // The last 1..3 outputs: the scalar loop is the same sum in the same order.
        for (o, xx) in out[x..].iter_mut().zip(x..) {
            let mut acc = 0.0f32;
            for &(k, row) in taps {
                acc += k * row[xx];
            }
            *o = acc;
        }
    }
}

/// See [`super::lerp_gather`]; NEON has no gather instruction, so four values from each index
/// table are loaded lane by lane (`ld1 {v.s}[i]`, without the bounds checks the scalar loop
/// pays), then interpolated four at a time.
///
/// # Safety
/// The CPU must support NEON; `idx0`, `idx1` and `frac` must be at least `out.len()` long and
/// every index below `row.len()`.
#[target_feature(enable = "neon")]
pub unsafe fn lerp_gather(row: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [f32]) {
    let n = out.len();
    let base = row.as_ptr();
    let (i0, i1, fr, dst) = (
        idx0.as_ptr(),
        idx1.as_ptr(),
        frac.as_ptr(),
        out.as_mut_ptr(),
    );
    /// Four values of `base` at the four indices of `idx`.
    ///
    /// # Safety
    /// The CPU must support NEON; `idx` must point at 4 readable indices, each in range of the
    /// slice `base` starts.
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn gather4(base: *const f32, idx: *const u32) -> float32x4_t {
        // SAFETY: the contract above.
        unsafe {
            let at = |i: usize| base.add(*idx.add(i) as usize);
            let v = vld1q_dup_f32(at(0));
            let v = vld1q_lane_f32::<1>(at(1), v);
            let v = vld1q_lane_f32::<2>(at(2), v);
            vld1q_lane_f32::<3>(at(3), v)
        }
    }
    let mut k = 0;
    while k + 4 <= n {
        // SAFETY: k + 3 < n for the four slices; the indices are in range (the caller's
        // contract), so the lane loads read inside `row`.
        unsafe {
            let v0 = gather4(base, i0.add(k));
            let v1 = gather4(base, i1.add(k));
            let t = vld1q_f32(fr.add(k));
            vst1q_f32(dst.add(k), vaddq_f32(v0, vmulq_f32(vsubq_f32(v1, v0), t)));
        }
        k += 4;
    }
    super::scalar::lerp_gather(row, &idx0[k..n], &idx1[k..n], &frac[k..n], &mut out[k..n]);
}

/// See [`super::quad_fixed_u8`]; eight at a time (`uaddlp` adds each pair of bytes into a
/// 16-bit lane), and the last eight again when the count is not a multiple (the outputs depend
/// on the inputs only).
///
/// # Safety
/// The CPU must support NEON; `a` and `b` must hold `2 * out.len()` bytes.
#[target_feature(enable = "neon")]
pub unsafe fn quad_fixed_u8(a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    let n = out.len();
    if n < 8 {
        return super::scalar::quad_fixed_u8(a, b, out);
    }
    let (pa, pb, dst) = (a.as_ptr(), b.map(|b| b.as_ptr()), out.as_mut_ptr());
    let block = |i: usize| {
        // SAFETY: i + 8 <= n, so bytes 2i..2i + 16 of both rows and outputs i..i + 8 are in
        // range. Sums of four bytes times 4 fit 16 bits.
        unsafe {
            let sums = vpaddlq_u8(vld1q_u8(pa.add(2 * i)));
            let v = match pb {
                Some(pb) => vshlq_n_u16::<2>(vaddq_u16(sums, vpaddlq_u8(vld1q_u8(pb.add(2 * i))))),
                None => vshlq_n_u16::<3>(sums),
            };
            vst1q_u16(dst.add(i), v);
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
/// The CPU must support NEON.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn mean8(sum: uint16x8_t, count: uint16x8_t) -> uint16x8_t {
    let plus_one = vaddq_u16(sum, vdupq_n_u16(1));
    // ((sum + 1) * 0x5556) >> 16, through 32-bit products.
    let third = vdupq_n_u16(0x5556);
    let thirds = vcombine_u16(
        vshrn_n_u32::<16>(vmull_u16(vget_low_u16(plus_one), vget_low_u16(third))),
        vshrn_n_u32::<16>(vmull_high_u16(plus_one, third)),
    );
    let is = |k: u16| vceqq_u16(count, vdupq_n_u16(k));
    let mut mean = vshrq_n_u16::<2>(vaddq_u16(sum, vdupq_n_u16(2)));
    mean = vbslq_u16(is(3), thirds, mean);
    mean = vbslq_u16(is(2), vshrq_n_u16::<1>(plus_one), mean);
    mean = vbslq_u16(is(1), sum, mean);
    // No known child: all ones, UNKNOWN.
    vorrq_u16(mean, is(0))
}

/// Eight coarse values of [`super::pull_fixed`] from the 16 values at `p0` and (when given)
/// `p1`; `ld2` splits each row into the first and second values of its pairs.
///
/// # Safety
/// The CPU must support NEON; 16 values must be readable at `p0` and `p1`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn pull8(p0: *const u16, p1: Option<*const u16>) -> uint16x8_t {
    let all = vdupq_n_u16(u16::MAX);
    let (mut sum, mut unknown, mut children) = (vdupq_n_u16(0), vdupq_n_u16(0), 0);
    for p in [Some(p0), p1].into_iter().flatten() {
        // SAFETY: the caller's contract.
        let pairs = unsafe { vld2q_u16(p) };
        for v in [pairs.0, pairs.1] {
            let u = vceqq_u16(v, all);
            // Known values summed; unknown ones counted as -1 each (wrapping).
            sum = vaddq_u16(sum, vbicq_u16(v, u));
            unknown = vaddq_u16(unknown, u);
        }
        children += 2;
    }
    // SAFETY: this function's own contract (NEON).
    unsafe { mean8(sum, vaddq_u16(vdupq_n_u16(children), unknown)) }
}

/// The lanes of `v` that are [`UNKNOWN`], as one byte each of a 64-bit mask.
///
/// # Safety
/// The CPU must support NEON.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn unknown_lanes(v: uint16x8_t) -> u64 {
    let lanes = vmovn_u16(vceqq_u16(v, vdupq_n_u16(u16::MAX)));
    vget_lane_u64::<0>(vreinterpret_u64_u8(lanes))
}

/// See [`super::pull_fixed`]; eight coarse values at a time, the last 1..7 from copies of the
/// rows padded with unknown values (which add nothing to a sum or a count).
///
/// # Safety
/// The CPU must support NEON; `out` must be `r0.len().div_ceil(2)` long and `r1`, if given, as
/// long as `r0`.
#[target_feature(enable = "neon")]
pub unsafe fn pull_fixed(r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    let (len, n) = (r0.len(), out.len());
    let mut found = Unknowns::NONE;
    let mut i = 0;
    while i + 8 <= n && 2 * i + 16 <= len {
        // SAFETY: 2i + 15 < len for both rows, i + 7 < n.
        unsafe {
            let v = pull8(r0.as_ptr().add(2 * i), r1.map(|r| r.as_ptr().add(2 * i)));
            vst1q_u16(out.as_mut_ptr().add(i), v);
            found.add_byte_lanes(i, unknown_lanes(v));
        }
        i += 8;
    }
    if i < n {
        let pad = |row: &[u16]| {
            let mut lanes = [UNKNOWN; 16];
            lanes[..len - 2 * i].copy_from_slice(&row[2 * i..]);
            lanes
        };
        let (a, b) = (pad(r0), r1.map(pad));
        let mut lanes = [0u16; 8];
        // SAFETY: both copies hold 16 values and `lanes` 8.
        let bits = unsafe {
            let v = pull8(a.as_ptr(), b.as_ref().map(|b| b.as_ptr()));
            vst1q_u16(lanes.as_mut_ptr(), v);
            unknown_lanes(v)
        };
        out[i..].copy_from_slice(&lanes[..n - i]);
        found.add_byte_lanes(i, bits & (u64::MAX >> (64 - 8 * (n - i))));
    }
    found
}

/// Fine samples `2j..2j + 16` of [`super::upsampled_fixed`] plus `bias` (before any shift): the
/// eight even ones and the eight odd ones, from the heavier coarse row `h` and the lighter `l`.
///
/// # Safety
/// The CPU must support NEON and `h` and `l` must each point at `j + 10` readable values.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn upsample8(
    (h, l): (*const u16, *const u16),
    j: usize,
    bias: u16,
) -> (uint16x8_t, uint16x8_t) {
    // The blend of the two rows at column j + k, in quarters: 3h + l.
    let blend = |k: usize| {
        // SAFETY: the caller's contract.
        let (hv, lv) = unsafe { (vld1q_u16(h.add(j + k)), vld1q_u16(l.add(j + k))) };
        vmlaq_n_u16(lv, hv, 3)
    };
    let (b0, b1, b2) = (blend(0), blend(1), blend(2));
    let three = vmulq_n_u16(b1, 3);
    let bias = vdupq_n_u16(bias);
    let even = vaddq_u16(vaddq_u16(b0, three), bias);
    let odd = vaddq_u16(vaddq_u16(three, b2), bias);
    (even, odd)
}

/// See [`super::push_fixed`]; sixteen fine samples at a time (`ld2`/`st2` split the fine row
/// into even and odd samples and join them again), and the last sixteen again when the count is
/// not a multiple (a sample replaced once is replaced by the same value again).
///
/// # Safety
/// The CPU must support NEON and `c0` and `c1` must be at least `fine.len() / 2 + 2` long.
#[target_feature(enable = "neon")]
pub unsafe fn push_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    let pairs = fine.len() / 2;
    if pairs < 8 {
        return super::scalar::push_fixed(c0, c1, heavy_first, fine);
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let rows = (rows.0.as_ptr(), rows.1.as_ptr());
    let (dst, all) = (fine.as_mut_ptr(), vdupq_n_u16(u16::MAX));
    let block = |j: usize| {
        // SAFETY: j + 8 <= pairs, so coarse values j..j + 10 and fine[2j..2j + 16] are in range.
        unsafe {
            let (even, odd) = upsample8(rows, j, 8);
            let (even, odd) = (vshrq_n_u16::<4>(even), vshrq_n_u16::<4>(odd));
            let f = vld2q_u16(dst.add(2 * j));
            let keep = |f: uint16x8_t, up: uint16x8_t| vbslq_u16(vceqq_u16(f, all), up, f);
            vst2q_u16(
                dst.add(2 * j),
                uint16x8x2_t(keep(f.0, even), keep(f.1, odd)),
            );
        }
    };
    let mut j = 0;
    while j + 8 <= pairs {
        block(j);
        j += 8;
    }
    if j < pairs {
        block(pairs - 8);
    }
    let x = 2 * pairs;
    if fine.len() > x && fine[x] == UNKNOWN {
        fine[x] = super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(8) >> 4;
    }
}

/// See [`super::write_fixed_u8`]; sixteen samples at a time (`addhn` adds the rounding bias and
/// keeps the high bytes, `st2` interleaves the even and odd samples), and the last sixteen again
/// when the count is not a multiple (the outputs depend on the coarse rows only).
///
/// # Safety
/// The CPU must support NEON and `c0` and `c1` must be at least `out.len() / 2 + 2` long.
#[target_feature(enable = "neon")]
pub unsafe fn write_fixed_u8(c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    let pairs = out.len() / 2;
    if pairs < 8 {
        return super::scalar::write_fixed_u8(c0, c1, heavy_first, out);
    }
    let rows = if heavy_first { (c0, c1) } else { (c1, c0) };
    let rows = (rows.0.as_ptr(), rows.1.as_ptr());
    let (dst, bias) = (out.as_mut_ptr(), vdupq_n_u16(128));
    let block = |j: usize| {
        // SAFETY: j + 8 <= pairs, so coarse values j..j + 10 and out[2j..2j + 16] are in range.
        unsafe {
            let (even, odd) = upsample8(rows, j, 0);
            vst2_u8(
                dst.add(2 * j),
                uint8x8x2_t(vaddhn_u16(even, bias), vaddhn_u16(odd, bias)),
            );
        }
    };
    let mut j = 0;
    while j + 8 <= pairs {
        block(j);
        j += 8;
    }
    if j < pairs {
        block(pairs - 8);
    }
    if out.len() % 2 == 1 {
        let x = 2 * pairs;
        out[x] =
            (super::scalar::upsampled_fixed(c0, c1, heavy_first, x).wrapping_add(128) >> 8) as u8;
    }
}
