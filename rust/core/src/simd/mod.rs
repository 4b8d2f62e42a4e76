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

    #[inline]
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
#[inline]
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => choose_level(),
        code => Level::from_code(code),
    }
}

/// The level on first use, remembered.
#[cold]
fn choose_level() -> Level {
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

// Fill's pull-push pyramid (`composite::fill`), in 16-bit fixed point: a value is a sample value
// times 2^F (F = 4 for 8-bit samples, 2 for 10-bit, so 4095 is never exceeded), and
// [`UNKNOWN`] marks a value with nothing visible under it (weight 0). Arithmetic wraps at 16
// bits at every level, so every level gives the scalar result for any input; within fill's
// range nothing wraps. The public functions use the level in force, the `_at` ones a given level
// (tests, benchmarks).

/// The value of a pyramid sample with nothing visible under it.
pub const UNKNOWN: u16 = u16::MAX;

/// The columns `start..end` of a pyramid row that hold all its unknown values: empty (`start ==
/// end`) when there are none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unknowns {
    /// The first unknown column.
    pub start: usize,
    /// One past the last unknown column.
    pub end: usize,
}

impl Unknowns {
    /// No unknown column.
    pub const NONE: Unknowns = Unknowns { start: 0, end: 0 };

    /// Whether the row has no unknown value.
    pub fn is_empty(self) -> bool {
        self.start >= self.end
    }

    /// Adds the unknown columns `at + k` for the set bits `k` of `bits`; columns must be added
    /// from left to right.
    #[inline]
    fn add_bits(&mut self, at: usize, bits: u32) {
        if bits != 0 {
            if self.is_empty() {
                self.start = at + bits.trailing_zeros() as usize;
            }
            self.end = at + 32 - bits.leading_zeros() as usize;
        }
    }

    /// As [`Unknowns::add_bits`] for a mask of 16-bit lanes narrowed to one byte each (all ones
    /// where unknown).
    #[cfg(target_arch = "aarch64")]
    #[inline]
    fn add_byte_lanes(&mut self, at: usize, lanes: u64) {
        if lanes != 0 {
            if self.is_empty() {
                self.start = at + lanes.trailing_zeros() as usize / 8;
            }
            self.end = at + (64 - lanes.leading_zeros() as usize) / 8;
        }
    }

    /// As [`Unknowns::add_bits`] for a byte mask of 16-bit lanes (`movemask` of a 16-bit
    /// compare: two bits a lane).
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn add_word_bits(&mut self, at: usize, bits: u32) {
        if bits != 0 {
            if self.is_empty() {
                self.start = at + bits.trailing_zeros() as usize / 2;
            }
            self.end = at + (32 - bits.leading_zeros() as usize) / 2;
        }
    }
}

/// Calls the kernel `$name` of the module for `$level` (which must be supported).
macro_rules! dispatch {
    ($level:expr, $name:ident($($arg:expr),*)) => {
        match $level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is supported (the caller's contract) and the caller checked
            // the kernel's other conditions.
            Level::Avx2 => unsafe { avx2::$name($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Level::Sse41 => unsafe { sse41::$name($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: as above.
            Level::Neon => unsafe { neon::$name($($arg),*) },
            _ => scalar::$name($($arg),*),
        }
    };
}

/// Level 1 of fill's pyramid (F = 4) where every sample under a value is visible: `out[i]` is 16
/// times the mean of `a[2i]`, `a[2i + 1]`, `b[2i]`, `b[2i + 1]` (their sum times 4), or of
/// `a[2i]`, `a[2i + 1]` without `b` (their sum times 8), exactly. Panics unless `a` and `b` hold
/// `2 * out.len()` bytes.
#[inline]
pub fn quad_fixed_u8(a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    // SAFETY: `level()` only ever returns supported levels.
    unsafe { quad_fixed_u8_unchecked(level(), a, b, out) }
}

/// [`quad_fixed_u8`] at a given level; panics when the CPU cannot run it.
pub fn quad_fixed_u8_at(level: Level, a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    // SAFETY: checked just above.
    unsafe { quad_fixed_u8_unchecked(level, a, b, out) }
}

/// # Safety
/// `level` must be supported by this CPU.
#[inline]
unsafe fn quad_fixed_u8_unchecked(level: Level, a: &[u8], b: Option<&[u8]>, out: &mut [u16]) {
    let n = out.len();
    let (a, b) = (&a[..2 * n], b.map(|b| &b[..2 * n]));
    dispatch!(level, quad_fixed_u8(a, b, out))
}

/// The rounded mean of `count` known pyramid values that sum to `sum` (at most 4): `sum`,
/// `(sum + 1) >> 1`, `(sum + 1) / 3` (as `((sum + 1) * 0x5556) >> 16`, exact below 32 768) or
/// `(sum + 2) >> 2`, wrapping at 16 bits; [`UNKNOWN`] for none.
#[inline]
pub fn mean_fixed(sum: u16, count: u16) -> u16 {
    scalar::mean_fixed(sum, count)
}

/// One row of a coarser pyramid level from the one or two finer rows under it: `out[i]` is the
/// [`mean_fixed`] of the known values among `r0[2i]`, `r0[2i + 1]`, `r1[2i]`, `r1[2i + 1]`
/// (those inside the rows), or [`UNKNOWN`] when none is known; returns the columns that are
/// unknown. Panics unless `out.len() == r0.len().div_ceil(2)` and `r1`, if given, is as long
/// as `r0`.
#[inline]
pub fn pull_fixed(r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    // SAFETY: `level()` only ever returns supported levels.
    unsafe { pull_fixed_unchecked(level(), r0, r1, out) }
}

/// [`pull_fixed`] at a given level; panics when the CPU cannot run it.
pub fn pull_fixed_at(level: Level, r0: &[u16], r1: Option<&[u16]>, out: &mut [u16]) -> Unknowns {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    // SAFETY: checked just above.
    unsafe { pull_fixed_unchecked(level, r0, r1, out) }
}

/// # Safety
/// `level` must be supported by this CPU.
#[inline]
unsafe fn pull_fixed_unchecked(
    level: Level,
    r0: &[u16],
    r1: Option<&[u16]>,
    out: &mut [u16],
) -> Unknowns {
    assert_eq!(
        out.len(),
        r0.len().div_ceil(2),
        "a coarse row is half a fine one"
    );
    assert!(
        r1.is_none_or(|r| r.len() == r0.len()),
        "the two fine rows differ in length"
    );
    dispatch!(level, pull_fixed(r0, r1, out))
}

/// Sixteen times the bilinear interpolation at fine sample `x` of a fine row lying between the
/// coarse rows `c0` and `c1`, each padded by one value at the front (`c[k]` is coarse column
/// `k - 1`): fine sample `x` sits 3/4 of the way from coarse column `(x - 1) >> 1` to the next,
/// for even `x`, and 1/4 for odd `x`, and rows likewise (3/4 on the row nearer, the first when
/// `heavy_first`). With `b[k] = 3 * c0[k] + c1[k]` (or `c0[k] + 3 * c1[k]`), this is `b[m] + 3 *
/// b[m + 1]` for `x = 2m` and `3 * b[m + 1] + b[m + 2]` for `x = 2m + 1` (wrapping at 16 bits).
#[inline(always)]
pub fn upsampled_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, x: usize) -> u16 {
    scalar::upsampled_fixed(c0, c1, heavy_first, x)
}

/// Panics unless `c0` and `c1` hold the `len / 2 + 2` values that fine samples `0..len` read.
#[inline]
fn check_coarse(c0: &[u16], c1: &[u16], len: usize) {
    let need = len / 2 + 2;
    assert!(
        len == 0 || c0.len().min(c1.len()) >= need,
        "{len} fine samples read {need} coarse values, not {}",
        c0.len().min(c1.len())
    );
}

/// Fill's push: every [`UNKNOWN`] sample `x` of `fine` becomes `(`[`upsampled_fixed`]`(c0, c1,
/// heavy_first, x) + 8) >> 4` (rounded half up, wrapping); known samples are left alone. Panics
/// unless `c0` and `c1` are at least `fine.len() / 2 + 2` long.
#[inline]
pub fn push_fixed(c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    // SAFETY: `level()` only ever returns supported levels.
    unsafe { push_fixed_unchecked(level(), c0, c1, heavy_first, fine) }
}

/// [`push_fixed`] at a given level; panics when the CPU cannot run it.
pub fn push_fixed_at(level: Level, c0: &[u16], c1: &[u16], heavy_first: bool, fine: &mut [u16]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    // SAFETY: checked just above.
    unsafe { push_fixed_unchecked(level, c0, c1, heavy_first, fine) }
}

/// # Safety
/// `level` must be supported by this CPU.
#[inline]
unsafe fn push_fixed_unchecked(
    level: Level,
    c0: &[u16],
    c1: &[u16],
    heavy_first: bool,
    fine: &mut [u16],
) {
    check_coarse(c0, c1, fine.len());
    dispatch!(level, push_fixed(c0, c1, heavy_first, fine))
}

/// Fill's output for 8-bit samples (F = 4): `out[x] = (`[`upsampled_fixed`]`(c0, c1,
/// heavy_first, x) + 128) >> 8`, the sample value rounded half up (wrapping; at most 255 by
/// construction). Panics unless `c0` and `c1` are at least `out.len() / 2 + 2` long.
#[inline]
pub fn write_fixed_u8(c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    // SAFETY: `level()` only ever returns supported levels.
    unsafe { write_fixed_u8_unchecked(level(), c0, c1, heavy_first, out) }
}

/// [`write_fixed_u8`] at a given level; panics when the CPU cannot run it.
pub fn write_fixed_u8_at(level: Level, c0: &[u16], c1: &[u16], heavy_first: bool, out: &mut [u8]) {
    assert!(level.is_supported(), "this CPU cannot run {level:?}");
    // SAFETY: checked just above.
    unsafe { write_fixed_u8_unchecked(level, c0, c1, heavy_first, out) }
}

/// # Safety
/// `level` must be supported by this CPU.
#[inline]
unsafe fn write_fixed_u8_unchecked(
    level: Level,
    c0: &[u16],
    c1: &[u16],
    heavy_first: bool,
    out: &mut [u8],
) {
    check_coarse(c0, c1, out.len());
    dispatch!(level, write_fixed_u8(c0, c1, heavy_first, out))
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

    /// A row of pyramid values (up to 4095, some unknown), or of any 16-bit values.
    fn pyramid_row(seed: u64, len: usize, unknown_every: u64, any: bool) -> Vec<u16> {
        noise(seed, len)
            .into_iter()
            .map(|v| {
                if unknown_every > 0 && (v >> 40) % unknown_every == 0 {
                    UNKNOWN
                } else if any {
                    v as u16
                } else {
                    (v % 4096) as u16
                }
            })
            .collect()
    }

    /// The first and one past the last unknown column of a row, worked out directly.
    fn unknowns_of(row: &[u16]) -> Unknowns {
        match row.iter().position(|&v| v == UNKNOWN) {
            None => Unknowns::NONE,
            Some(start) => Unknowns {
                start,
                end: row.iter().rposition(|&v| v == UNKNOWN).unwrap() + 1,
            },
        }
    }

    const FILL_LENGTHS: [usize; 19] = [
        0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 1001,
    ];

    #[test]
    fn every_level_takes_quad_means_like_scalar() {
        for len in FILL_LENGTHS {
            let r = noise(len as u64 + 13, 4 * len + 2);
            let a: Vec<u8> = r[..2 * len + 1].iter().map(|&v| v as u8).collect();
            let b: Vec<u8> = r[2 * len + 1..].iter().map(|&v| (v >> 9) as u8).collect();
            for second in [Some(&b[..]), None] {
                let mut want = vec![0u16; len];
                scalar::quad_fixed_u8(&a, second, &mut want);
                for i in 0..len {
                    let mut children = vec![a[2 * i], a[2 * i + 1]];
                    if let Some(b) = second {
                        children.extend([b[2 * i], b[2 * i + 1]]);
                    }
                    let sum: u32 = children.iter().map(|&v| u32::from(v)).sum();
                    assert_eq!(u32::from(want[i]) * children.len() as u32, 16 * sum);
                }
                for level in Level::supported() {
                    let mut got = vec![7u16; len];
                    quad_fixed_u8_at(level, &a, second, &mut got);
                    assert_eq!(got, want, "{level:?} len {len}");
                }
            }
        }
    }

    #[test]
    fn means_round_half_up() {
        for sum in 0..20_000u16 {
            for count in 1..=4u16 {
                let want = (2 * u32::from(sum) + u32::from(count)) / (2 * u32::from(count));
                assert_eq!(u32::from(mean_fixed(sum, count)), want, "{sum} / {count}");
            }
        }
        assert_eq!(mean_fixed(5, 0), UNKNOWN);
    }

    #[test]
    fn every_level_pulls_rows_like_scalar() {
        for len in FILL_LENGTHS {
            for (unknown_every, any) in [(0, false), (2, false), (5, false), (3, true)] {
                let r0 = pyramid_row(len as u64 + 21, len, unknown_every, any);
                let r1 = pyramid_row(len as u64 + 22, len, unknown_every, any);
                for second in [None, Some(&r1[..])] {
                    let mut want = vec![0u16; len.div_ceil(2)];
                    let want_unknown = scalar::pull_fixed(&r0, second, &mut want);
                    assert_eq!(want_unknown, unknowns_of(&want));
                    for (i, w) in want.iter().enumerate() {
                        let known: Vec<u16> = [Some(&r0[..]), second]
                            .into_iter()
                            .flatten()
                            .flat_map(|row| row[2 * i..(2 * i + 2).min(len)].iter().copied())
                            .filter(|&v| v != UNKNOWN)
                            .collect();
                        let sum = known.iter().fold(0u16, |a, &v| a.wrapping_add(v));
                        assert_eq!(*w, mean_fixed(sum, known.len() as u16), "len {len} at {i}");
                    }
                    for level in Level::supported() {
                        let mut got = vec![7u16; len.div_ceil(2)];
                        let unknown = pull_fixed_at(level, &r0, second, &mut got);
                        assert_eq!(got, want, "{level:?} len {len}");
                        assert_eq!(unknown, want_unknown, "{level:?} len {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_level_upsamples_like_scalar() {
        for len in FILL_LENGTHS {
            for any in [false, true] {
                let c0 = pyramid_row(len as u64 + 41, len / 2 + 2, 0, any);
                let c1 = pyramid_row(len as u64 + 43, len / 2 + 2, 0, any);
                for heavy_first in [false, true] {
                    let b = |k: usize| {
                        let (h, l) = if heavy_first {
                            (c0[k], c1[k])
                        } else {
                            (c1[k], c0[k])
                        };
                        h.wrapping_mul(3).wrapping_add(l)
                    };
                    for x in 0..len {
                        let m = x / 2;
                        let (near, far) = if x % 2 == 0 {
                            (b(m + 1), b(m))
                        } else {
                            (b(m + 1), b(m + 2))
                        };
                        let v = upsampled_fixed(&c0, &c1, heavy_first, x);
                        assert_eq!(v, near.wrapping_mul(3).wrapping_add(far));
                        if !any {
                            // Sixteen times the bilinear interpolation, exactly.
                            let (w0, w1) = if heavy_first { (3, 1) } else { (1, 3) };
                            let at = |k: usize| w0 * u32::from(c0[k]) + w1 * u32::from(c1[k]);
                            let exact = if x % 2 == 0 {
                                at(m) + 3 * at(m + 1)
                            } else {
                                3 * at(m + 1) + at(m + 2)
                            };
                            assert_eq!(u32::from(v), exact);
                        }
                    }
                    // Push: unknown samples take the upsampled value, known ones stay.
                    let fine = pyramid_row(len as u64 + 42, len, 3, any);
                    let mut want = fine.clone();
                    scalar::push_fixed(&c0, &c1, heavy_first, &mut want);
                    for x in 0..len {
                        let expect = if fine[x] == UNKNOWN {
                            upsampled_fixed(&c0, &c1, heavy_first, x).wrapping_add(8) >> 4
                        } else {
                            fine[x]
                        };
                        assert_eq!(want[x], expect);
                    }
                    let mut want_u8 = vec![0u8; len];
                    scalar::write_fixed_u8(&c0, &c1, heavy_first, &mut want_u8);
                    for (x, &w) in want_u8.iter().enumerate() {
                        let v = upsampled_fixed(&c0, &c1, heavy_first, x).wrapping_add(128) >> 8;
                        assert_eq!(u16::from(w), v);
                    }
                    for level in Level::supported() {
                        let mut got = fine.clone();
                        push_fixed_at(level, &c0, &c1, heavy_first, &mut got);
                        assert_eq!(got, want, "{level:?} len {len}");
                        let mut got = vec![7u8; len];
                        write_fixed_u8_at(level, &c0, &c1, heavy_first, &mut got);
                        assert_eq!(got, want_u8, "{level:?} len {len}");
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "coarse values")]
    fn coarse_rows_too_short_are_refused() {
        write_fixed_u8(&[0; 4], &[0; 9], false, &mut [0u8; 6]);
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
