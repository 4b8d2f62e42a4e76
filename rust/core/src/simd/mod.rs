//! SIMD kernels, chosen at run time: AVX2 or SSE4.1 on x86-64, scalar everywhere.
//!
//! Wheels are built for the baseline instruction set, so faster paths are picked by CPU detection,
//! never by `target-cpu`. `PRIVMASK_SIMD=scalar|sse41|avx2` (or [`set_level`]) forces a level for
//! tests and benchmarks; asking for one the CPU lacks is an error. Every level computes exactly
//! what the scalar reference does (same operations in the same order), and the tests check that.
//! aarch64 runs the scalar path: NEON kernels are not written yet.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Result};

#[cfg(target_arch = "x86_64")]
mod avx2;
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
}

impl Level {
    /// The level's name as `PRIVMASK_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Sse41 => "sse41",
            Level::Avx2 => "avx2",
        }
    }

    /// Parses a `PRIVMASK_SIMD` value.
    pub fn parse(name: &str) -> Result<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Ok(Level::Scalar),
            "sse41" | "sse4.1" => Ok(Level::Sse41),
            "avx2" => Ok(Level::Avx2),
            other => Err(Error::MaskConfig(format!(
                "unknown SIMD level {other:?}; use scalar, sse41 or avx2"
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
            _ => false,
        }
    }

    /// The levels this CPU supports, slowest first.
    pub fn supported() -> Vec<Level> {
        [Level::Scalar, Level::Sse41, Level::Avx2]
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
        _ => scalar::sum_u8(data),
    }
}

/// Adds the bytes of `row[a..b]` to per-block sums: the block of sample `x` is `x / block_w`, and
/// its sum and count go to `sums[x / block_w - col0]`, `counts[...]` (which must be in range).
pub fn add_block_sums_u8(
    row: &[u8],
    (a, b): (usize, usize),
    block_w: usize,
    col0: usize,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    assert!(a <= b && b <= row.len() && block_w > 0);
    if a == b {
        return;
    }
    assert!(a / block_w >= col0 && (b - 1) / block_w - col0 < sums.len().min(counts.len()));
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level()` only returns supported levels; AVX2 implies SSE4.1.
        Level::Sse41 | Level::Avx2 => unsafe {
            sse41::add_block_sums_u8(row, a, b, block_w, col0, sums, counts)
        },
        _ => scalar::add_block_sums_u8(row, a, b, block_w, col0, sums, counts),
    }
}

/// The blur's interpolation along a row: `out[k] = min(255, trunc(b[i0] + (b[i1] - b[i0]) * t
/// + 0.5))` with `i0 = idx0[k]`, `i1 = idx1[k]`, `t = frac[k]`, for 8-bit samples with unit step.
/// Panics when an index is not below `blended.len()`.
pub fn lerp_u8(blended: &[f32], idx0: &[u32], idx1: &[u32], frac: &[f32], out: &mut [u8]) {
    lerp_u8_at(level(), blended, idx0, idx1, frac, out)
}

/// [`lerp_u8`] at a given level; panics when the CPU cannot run it.
pub fn lerp_u8_at(
    level: Level,
    blended: &[f32],
    idx0: &[u32],
    idx1: &[u32],
    frac: &[f32],
    out: &mut [u8],
) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    let limit = blended.len() as u32;
    assert!(
        idx0.iter().chain(idx1).all(|&i| i < limit),
        "interpolation index out of range"
    );
    // SAFETY: the level and every index were just checked.
    unsafe { lerp_u8_unchecked(level, blended, idx0, idx1, frac, out) }
}

/// [`lerp_u8_at`] without the checks, for callers that built the indices in range.
///
/// # Safety
/// `level` must be supported by this CPU, and every element of `idx0` and `idx1` must be below
/// `blended.len()`.
pub(crate) unsafe fn lerp_u8_unchecked(
    level: Level,
    blended: &[f32],
    idx0: &[u32],
    idx1: &[u32],
    frac: &[f32],
    out: &mut [u8],
) {
    let n = out.len();
    assert!(idx0.len() == n && idx1.len() == n && frac.len() == n);
    debug_assert!(idx0
        .iter()
        .chain(idx1)
        .all(|&i| (i as usize) < blended.len()));
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the level is supported and the indices in range (this function's contract).
        Level::Avx2 => unsafe { avx2::lerp_u8(blended, idx0, idx1, frac, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Sse41 => unsafe { sse41::lerp_u8(blended, idx0, idx1, frac, out) },
        _ => scalar::lerp_u8(blended, idx0, idx1, frac, out),
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
        for len in [
            0usize, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099,
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
    fn every_level_adds_block_sums_like_scalar() {
        let row: Vec<u8> = noise(7, 300).into_iter().map(|v| v as u8).collect();
        for block_w in [1usize, 2, 3, 8, 15, 16, 17, 24, 64] {
            for (a, b) in [
                (0usize, 0usize),
                (0, 300),
                (5, 6),
                (7, 200),
                (16, 48),
                (33, 299),
            ] {
                let col0 = a / block_w;
                let n = 300 / block_w + 2;
                let (mut want_s, mut want_c) = (vec![1u64; n], vec![2u32; n]);
                scalar::add_block_sums_u8(&row, a, b, block_w, col0, &mut want_s, &mut want_c);
                let direct: u64 = row[a..b].iter().map(|&v| u64::from(v)).sum();
                assert_eq!(want_s.iter().sum::<u64>() - n as u64, direct);
                for level in Level::supported() {
                    set_level(level).unwrap();
                    let (mut s, mut c) = (vec![1u64; n], vec![2u32; n]);
                    add_block_sums_u8(&row, (a, b), block_w, col0, &mut s, &mut c);
                    assert_eq!(
                        (s, c),
                        (want_s.clone(), want_c.clone()),
                        "{level:?} w {block_w} {a}..{b}"
                    );
                }
            }
        }
        set_level(Level::supported().last().copied().unwrap_or(Level::Scalar)).unwrap();
    }

    #[test]
    fn every_level_interpolates_like_scalar() {
        for len in [0usize, 1, 3, 4, 5, 8, 9, 16, 31, 100, 1001] {
            let r = noise(len as u64 + 99, 4 * len + 64);
            let blended: Vec<f32> = (0..64).map(|i| (r[i] % 25600) as f32 / 100.0).collect();
            let idx0: Vec<u32> = (0..len).map(|k| (r[64 + k] % 63) as u32).collect();
            let idx1: Vec<u32> = idx0
                .iter()
                .map(|&i| i + (r[i as usize] % 2) as u32)
                .collect();
            let frac: Vec<f32> = (0..len)
                .map(|k| (r[64 + len + k] % 1000) as f32 / 1000.0)
                .collect();
            let mut want = vec![0u8; len];
            scalar::lerp_u8(&blended, &idx0, &idx1, &frac, &mut want);
            for level in Level::supported() {
                let mut got = vec![7u8; len];
                lerp_u8_at(level, &blended, &idx0, &idx1, &frac, &mut got);
                assert_eq!(got, want, "{level:?} len {len}");
            }
        }
        // Values above 255 saturate, values a hair below zero round to zero.
        let blended = [300.0f32, -0.2, 254.5, 254.49];
        for level in Level::supported() {
            let mut got = [0u8; 4];
            lerp_u8_at(
                level,
                &blended,
                &[0, 1, 2, 3],
                &[0, 1, 2, 3],
                &[0.0; 4],
                &mut got,
            );
            assert_eq!(got, [255, 0, 255, 254], "{level:?}");
        }
    }

    #[test]
    fn levels_parse_and_unsupported_ones_are_refused() {
        assert_eq!(Level::parse("AVX2").unwrap(), Level::Avx2);
        assert!(Level::parse("neon9").is_err());
        assert!(Level::supported().contains(&Level::Scalar));
        let before = level();
        set_level(Level::Scalar).unwrap();
        assert_eq!(level(), Level::Scalar);
        set_level(before).unwrap();
    }
}
