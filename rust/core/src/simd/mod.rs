//! SIMD kernels, chosen at run time: AVX2 or SSE4.1 on x86-64, NEON on aarch64, scalar everywhere.
//!
//! Wheels are built for the baseline instruction set, so faster paths are picked by CPU detection,
//! never by `target-cpu`. `PRIVMASK_SIMD=scalar|sse41|avx2|neon` (or [`set_level`]) forces a level
//! for tests and benchmarks; asking for one the CPU lacks is an error. Every level computes exactly
//! what the scalar reference does (same operations in the same order), and the tests check that
//! (on aarch64 under emulation too: `make test-aarch64`).

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod sse41;

/// An instruction-set level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Portable Rust, the reference.
    Scalar,
    /// x86-64 with SSE4.1.
    Sse41,
    /// x86-64 with AVX2.
    Avx2,
    /// aarch64 with NEON (Advanced SIMD).
    Neon,
}

impl Level {
    /// The level's name as `PRIVMASK_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Sse41 => "sse41",
            Level::Avx2 => "avx2",
            Level::Neon => "neon",
        }
    }

    /// Parses a `PRIVMASK_SIMD` value.
    pub fn parse(name: &str) -> Result<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "sse41" | "sse4.1" => Ok(Level::Sse41),
            "avx2" => Ok(Level::Avx2),
            "neon" => Ok(Level::Neon),
            other => Err(Error::MaskConfig(format!(
                "unknown SIMD level {other:?}; use scalar, sse41, avx2 or neon"
            ))),
        }
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Sse41 => std::arch::is_x86_feature_detected!("sse4.1"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            Level::Sse41 | Level::Avx2 => false,
            #[cfg(target_arch = "aarch64")]
            Level::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(not(target_arch = "aarch64"))]
            Level::Neon => false,
        }
    }

    /// The levels this CPU supports, slowest first (levels of another architecture are never
    /// supported, so at most one family follows scalar).
    pub fn supported() -> Vec<Level> {
        [Level::Scalar, Level::Sse41, Level::Avx2, Level::Neon]
            .into_iter()
            .filter(|l| l.is_supported())
            .collect()
    }

    fn best() -> Level {
        *Level::supported().last().unwrap_or(&Level::Scalar)
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Level {
        match code {
            2 => Level::Sse41,
            3 => Level::Avx2,
            4 => Level::Neon,
            _ => Level::Scalar,
        }
    }
}

/// 0 until first use; then the level's code.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The level in use: `PRIVMASK_SIMD` if set and supported, else the best the CPU has.
pub fn level() -> Level {
    let code = LEVEL.load(Ordering::Relaxed);
    if code != 0 {
        return Level::from_code(code);
    }
    let chosen = std::env::var("PRIVMASK_SIMD")
        .ok()
        .and_then(|v| Level::parse(&v).ok())
        .filter(|l| l.is_supported())
        .unwrap_or_else(Level::best);
    LEVEL.store(chosen.code(), Ordering::Relaxed);
    chosen
}

/// Forces a level (tests, benchmarks); an unsupported one is refused.
pub fn set_level(level: Level) -> Result<()> {
    if !level.is_supported() {
        return Err(Error::MaskConfig(format!(
            "this CPU cannot run the {} level",
            level.name()
        )));
    }
    LEVEL.store(level.code(), Ordering::Relaxed);
    Ok(())
}

/// Asks the CPU to start loading the cache line holding `*ptr`. Only a hint: it never faults
/// and changes no result (a no-op where no prefetch instruction is wired up).
#[inline]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64, and a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `prfm` is in the aarch64 base instruction set and never faults, whatever the
    // address; it reads no memory architecturally, writes none, and leaves the flags alone.
    unsafe {
        std::arch::asm!(
            "prfm pldl1keep, [{0}]",
            in(reg) ptr,
            options(nostack, readonly, preserves_flags)
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = ptr;
}

/// Sum of the bytes.
pub fn sum_u8(data: &[u8]) -> u64 {
    // SAFETY: `level()` only ever returns supported levels.
    unsafe { sum_u8_unchecked(level(), data) }
}

/// [`sum_u8`] at a given level; panics when the CPU cannot run it.
pub fn sum_u8_at(level: Level, data: &[u8]) -> u64 {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    // SAFETY: checked just above.
    unsafe { sum_u8_unchecked(level, data) }
}

/// # Safety
/// `level` must be supported by this CPU.
unsafe fn sum_u8_unchecked(level: Level, data: &[u8]) -> u64 {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is supported (this function's contract).
        Level::Avx2 => unsafe { avx2::sum_u8(data) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Sse41 => unsafe { sse41::sum_u8(data) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Level::Neon => unsafe { neon::sum_u8(data) },
        _ => scalar::sum_u8(data),
    }
}

/// Adds each byte of `src` to the 16-bit counter of `acc` at the same index (wrapping: callers
/// add at most 257 rows before they empty the counters). Extra elements of the longer slice are
/// left alone.
pub fn add_u8_to_u16(acc: &mut [u16], src: &[u8]) {
    add_u8_to_u16_at(level(), acc, src)
}

/// [`add_u8_to_u16`] at a given level; panics when the CPU cannot run it.
pub fn add_u8_to_u16_at(level: Level, acc: &mut [u16], src: &[u8]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level was just checked.
        Level::Avx2 => unsafe { avx2::add_u8_to_u16(acc, src) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Sse41 => unsafe { sse41::add_u8_to_u16(acc, src) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Level::Neon => unsafe { neon::add_u8_to_u16(acc, src) },
        _ => scalar::add_u8_to_u16(acc, src),
    }
}

/// The blur's interpolation between two rows of the field, already interpolated along the row:
/// `out[k] = min(255, trunc(r0[k] + (r1[k] - r0[k]) * t + 0.5))`, negatives to 0, for the
/// shortest of the three slices.
pub fn lerp_rows_u8(r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    lerp_rows_u8_at(level(), r0, r1, t, out)
}

/// [`lerp_rows_u8`] at a given level; panics when the CPU cannot run it.
pub fn lerp_rows_u8_at(level: Level, r0: &[f32], r1: &[f32], t: f32, out: &mut [u8]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level was just checked.
        Level::Avx2 => unsafe { avx2::lerp_rows_u8(r0, r1, t, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Sse41 => unsafe { sse41::lerp_rows_u8(r0, r1, t, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Level::Neon => unsafe { neon::lerp_rows_u8(r0, r1, t, out) },
        _ => scalar::lerp_rows_u8(r0, r1, t, out),
    }
}

/// `out[x] = k0 * row0[x] + k1 * row1[x] + ...` for the `(k, row)` taps in order, summed from 0
/// (the blur's Gaussian passes). Panics when a row is shorter than `out`.
pub fn weighted_rows(taps: &[(f32, &[f32])], out: &mut [f32]) {
    weighted_rows_at(level(), taps, out)
}

/// [`weighted_rows`] at a given level; panics when the CPU cannot run it.
pub fn weighted_rows_at(level: Level, taps: &[(f32, &[f32])], out: &mut [f32]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    assert!(
        taps.iter().all(|(_, row)| row.len() >= out.len()),
        "a row is shorter than the output"
    );
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level and the row lengths were just checked.
        Level::Avx2 => unsafe { avx2::weighted_rows(taps, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Level::Neon => unsafe { neon::weighted_rows(taps, out) },
        _ => scalar::weighted_rows(taps, out),
    }
}

/// Linear interpolation at scattered points of a row: `out[k] = v0 + (v1 - v0) * frac[k]` with
/// `v0 = row[idx0[k]]`, `v1 = row[idx1[k]]` (the blur's field rows, interpolated along x).
/// Panics when an index is out of range or an index or weight slice is shorter than `out`.
pub fn lerp_gather(row: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [f32]) {
    lerp_gather_at(level(), row, idx0, idx1, frac, out)
}

/// [`lerp_gather`] at a given level; panics when the CPU cannot run it.
pub fn lerp_gather_at(
    level: Level,
    row: &[f32],
    idx0: &[u32],
    idx1: &[u32],
    frac: &[f32],
    out: &mut [f32],
) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    let limit = row.len() as u32;
    assert!(
        idx0.iter().chain(idx1).all(|&i| i < limit),
        "interpolation index out of range"
    );
    // SAFETY: the level and every index were just checked.
    unsafe { lerp_gather_unchecked(level, row, idx0, idx1, frac, out) }
}

/// [`lerp_gather_at`] without the index check, for callers whose indices are in range by
/// construction (the blur's interpolation tables are clamped when they are built).
///
/// # Safety
/// `level` must be supported by this CPU and every element of `idx0[..out.len()]` and
/// `idx1[..out.len()]` below `row.len()`.
pub(crate) unsafe fn lerp_gather_unchecked(
    level: Level,
    row: &[f32],
    idx0: &[u32],
    idx1: &[u32],
    frac: &[f32],
    out: &mut [f32],
) {
    let n = out.len();
    let (idx0, idx1, frac) = (&idx0[..n], &idx1[..n], &frac[..n]);
    debug_assert!(idx0.iter().chain(idx1).all(|&i| (i as usize) < row.len()));
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is supported and the indices in range (this function's contract);
        // the slices were cut to `out`'s length above.
        Level::Avx2 => unsafe { avx2::lerp_gather(row, idx0, idx1, frac, out) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Level::Neon => unsafe { neon::lerp_gather(row, idx0, idx1, frac, out) },
        _ => scalar::lerp_gather(row, idx0, idx1, frac, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator, so the tests need no crate.
    fn noise(seed: u64, n: usize) -> Vec<u64> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect()
    }

    #[test]
    fn every_level_sums_like_scalar() {
        // Past 4096 the NEON level empties its 16-bit counters; 70 001 would overflow them.
        for len in [
            0usize, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4095, 4096, 4099, 8191,
            70_001,
        ] {
            let data: Vec<u8> = noise(len as u64, len)
                .into_iter()
                .map(|v| v as u8)
                .collect();
            let want = scalar::sum_u8(&data);
            assert_eq!(want, data.iter().map(|&v| u64::from(v)).sum::<u64>());
            for level in Level::supported() {
                assert_eq!(sum_u8_at(level, &data), want, "{level:?} len {len}");
                assert_eq!(
                    sum_u8_at(level, &vec![255u8; len]),
                    255 * len as u64,
                    "{level:?}"
                );
            }
        }
    }

    #[test]
    fn every_level_adds_columns_like_scalar() {
        for len in [0usize, 1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 100, 1001] {
            let src: Vec<u8> = noise(len as u64 + 5, len)
                .into_iter()
                .map(|v| v as u8)
                .collect();
            let start: Vec<u16> = noise(len as u64 + 6, len)
                .into_iter()
                .map(|v| v as u16)
                .collect();
            let mut want = start.clone();
            scalar::add_u8_to_u16(&mut want, &src);
            for (k, w) in want.iter().enumerate() {
                assert_eq!(*w, start[k].wrapping_add(u16::from(src[k])));
            }
            for level in Level::supported() {
                let mut got = start.clone();
                add_u8_to_u16_at(level, &mut got, &src);
                assert_eq!(got, want, "{level:?} len {len}");
                // A shorter source leaves the rest of the counters alone.
                let mut got = start.clone();
                add_u8_to_u16_at(level, &mut got, &src[..len / 2]);
                assert_eq!(got[len / 2..], start[len / 2..], "{level:?} len {len}");
                assert_eq!(got[..len / 2], want[..len / 2], "{level:?} len {len}");
            }
        }
    }

    #[test]
    fn every_level_interpolates_rows_like_scalar() {
        for len in [0usize, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 100, 1001] {
            let r = noise(len as u64 + 99, 2 * len + 1);
            let r0: Vec<f32> = (0..len).map(|k| (r[k] % 25600) as f32 / 100.0).collect();
            let r1: Vec<f32> = (0..len)
                .map(|k| (r[len + k] % 25600) as f32 / 100.0)
                .collect();
            let t = (r[2 * len] % 1000) as f32 / 1000.0;
            let mut want = vec![0u8; len];
            scalar::lerp_rows_u8(&r0, &r1, t, &mut want);
            for (k, w) in want.iter().enumerate() {
                let exact = f64::from(r0[k]) + (f64::from(r1[k]) - f64::from(r0[k])) * f64::from(t);
                assert!(
                    (f64::from(*w) - exact).abs() <= 0.5 + 1e-3,
                    "{k}: {w} vs {exact}"
                );
            }
            for level in Level::supported() {
                let mut got = vec![7u8; len];
                lerp_rows_u8_at(level, &r0, &r1, t, &mut got);
                assert_eq!(got, want, "{level:?} len {len}");
            }
        }
        // Values above 255 saturate, values a hair below zero round to zero, halves round up.
        let r0 = [300.0f32, -0.2, 254.5, 254.49, 0.5, 3.0, 1.0, 2.0, 9.0];
        for level in Level::supported() {
            let mut got = [0u8; 9];
            lerp_rows_u8_at(level, &r0, &r0, 0.25, &mut got);
            assert_eq!(got, [255, 0, 255, 254, 1, 3, 1, 2, 9], "{level:?}");
        }
    }

    #[test]
    fn every_level_sums_weighted_rows_like_scalar() {
        for (len, taps) in [
            (0usize, 3usize),
            (1, 1),
            (7, 7),
            (8, 2),
            (9, 5),
            (21, 3),
            (33, 7),
            (1000, 4),
        ] {
            let r = noise(len as u64 + 11, (taps + 1) * len + taps);
            let rows: Vec<Vec<f32>> = (0..taps)
                .map(|t| {
                    (0..len + t)
                        .map(|x| {
                            (r[t * len + x.min(len.saturating_sub(1))] % 25_600) as f32 / 100.0
                        })
                        .collect()
                })
                .collect();
            let ks: Vec<f32> = (0..taps)
                .map(|t| (r[taps * len + t] % 1000) as f32 / 997.0)
                .collect();
            let pairs: Vec<(f32, &[f32])> = ks
                .iter()
                .zip(&rows)
                .map(|(&k, row)| (k, &row[..]))
                .collect();
            let mut want = vec![0.0f32; len];
            scalar::weighted_rows(&pairs, &mut want);
            for (x, v) in want.iter().enumerate() {
                let direct = pairs.iter().fold(0.0f32, |acc, &(k, row)| acc + k * row[x]);
                assert_eq!(v.to_bits(), direct.to_bits());
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for level in Level::supported() {
                let mut got = vec![-1.0f32; len];
                weighted_rows_at(level, &pairs, &mut got);
                assert_eq!(bits(&got), bits(&want), "{level:?} len {len} taps {taps}");
            }
        }
    }

    #[test]
    fn every_level_gathers_like_scalar() {
        for len in [0usize, 1, 7, 8, 9, 17, 100, 1001] {
            let r = noise(len as u64 + 99, 3 * len + 64);
            let row: Vec<f32> = (0..64).map(|i| (r[i] % 25_600) as f32 / 100.0).collect();
            let idx0: Vec<u32> = (0..len).map(|k| (r[64 + k] % 63) as u32).collect();
            let idx1: Vec<u32> = idx0
                .iter()
                .map(|&i| i + (r[i as usize] % 2) as u32)
                .collect();
            let frac: Vec<f32> = (0..len)
                .map(|k| (r[64 + len + k] % 1000) as f32 / 1000.0)
                .collect();
            let mut want = vec![0.0f32; len];
            scalar::lerp_gather(&row, &idx0, &idx1, &frac, &mut want);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for level in Level::supported() {
                let mut got = vec![-1.0f32; len];
                lerp_gather_at(level, &row, &idx0, &idx1, &frac, &mut got);
                assert_eq!(bits(&got), bits(&want), "{level:?} len {len}");
            }
        }
    }

    #[test]
    fn levels_parse_and_unsupported_ones_are_refused() {
        assert_eq!(Level::parse("AVX2").unwrap(), Level::Avx2);
        assert_eq!(Level::parse(" Neon ").unwrap(), Level::Neon);
        assert!(Level::parse("neon9").is_err());
        for level in [Level::Scalar, Level::Sse41, Level::Avx2, Level::Neon] {
            assert_eq!(Level::parse(level.name()).unwrap(), level);
            assert_eq!(Level::from_code(level.code()), level);
        }
        let supported = Level::supported();
        assert!(supported.contains(&Level::Scalar));
        // Every aarch64 CPU has NEON, and no CPU has levels of two architectures.
        assert_eq!(
            supported.contains(&Level::Neon),
            cfg!(target_arch = "aarch64")
        );
        if cfg!(target_arch = "aarch64") {
            assert_eq!(supported, [Level::Scalar, Level::Neon]);
            assert_eq!(Level::best(), Level::Neon);
        } else {
            assert!(set_level(Level::Neon).is_err());
        }
        let before = level();
        set_level(Level::Scalar).unwrap();
        assert_eq!(level(), Level::Scalar);
        set_level(before).unwrap();
    }
}
