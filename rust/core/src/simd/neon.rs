//! NEON kernels (aarch64).
//!
//! NEON (Advanced SIMD) is part of the aarch64 baseline, so every aarch64 CPU has it; the level
//! is still picked by run-time detection like the x86 ones, and `PRIVMASK_SIMD=scalar` still
//! selects the reference. Floating-point lanes use a separate multiply and add, never the fused
//! `fmla`, and aarch64's vector unit follows the same FPCR rounding and denormal settings as its
//! scalar unit: each lane is the scalar result bit for bit.

use std::arch::aarch64::*;

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
