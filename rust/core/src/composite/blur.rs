//! The information-bounded blur (DESIGN §3): cell means, Gaussian on the cell grid, bilinear back.
//!
//! The output inside the cover is a function of the cell means (and the fixed geometry) alone, so
//! it carries at most one value per cell, however it looks.

use std::cell::RefCell;

use crate::blocks::{accumulate_block_row, BlockGrid};
use crate::frame::{ChannelMut, Sample};
use crate::parallel::{for_bands, for_rows2, MIN_SAMPLES_PER_BAND};
use crate::spans::Spans;

/// A compiled blur for one plane geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct BlurPlan {
    /// The cell grid (cells aligned like mosaic blocks).
    pub cells: BlockGrid,
    /// Gaussian weights on the cell grid for offsets `-r..=r`.
    kernel: Vec<f32>,
    /// Bounding box of the cells with covered samples, grown by one cell and clamped to the grid:
    /// `(x0, y0, x1, y1)`, half-open. The smoothed field is needed exactly there.
    region: (u32, u32, u32, u32),
    /// The covered samples, by row.
    spans: Spans,
    /// Per sample column: the two region columns of the field around its centre and the weight of
    /// the second (bilinear interpolation, clamped at the region's edges), as three arrays that
    /// the SIMD kernel loads directly.
    col_first: Vec<u32>,
    col_second: Vec<u32>,
    col_weight: Vec<f32>,
    /// The same per sample row.
    rows: Vec<(u32, u32, f32)>,
}

/// For each of `n` samples on a grid of cells `cell` samples wide: the two cells whose centres
/// bracket the sample's centre, relative to `lo` and clamped to `[lo, hi)`, and the weight of the
/// second.
fn interpolation_table(n: u32, cell: u32, lo: u32, hi: u32) -> Vec<(u32, u32, f32)> {
    (0..n)
        .map(|x| {
            let u = (x as f32 + 0.5) / cell as f32 - 0.5;
            let c = u.floor();
            let t = u - c;
            let clamp = |v: i64| (v.clamp(i64::from(lo), i64::from(hi) - 1) - i64::from(lo)) as u32;
            (clamp(c as i64), clamp(c as i64 + 1), t)
        })
        .collect()
}

impl BlurPlan {
    /// Plans a blur of the covered samples `spans` on the cell grid `cells`, with `sigma_cells`
    /// measured in cells.
    pub fn new(spans: Spans, cells: BlockGrid, sigma_cells: f64) -> Self {
        assert!(
            sigma_cells > 0.0 && sigma_cells <= 1.0,
            "sigma must be at most one cell (cells are at least sigma wide), got {sigma_cells}"
        );
        let radius = (3.0 * sigma_cells).ceil().max(1.0) as i32;
        let kernel = (-radius..=radius)
            .map(|k| (-(f64::from(k * k)) / (2.0 * sigma_cells * sigma_cells)).exp() as f32)
            .collect();
        // The cells holding covered samples, grown by one and clamped to the grid.
        let region = match spans.bounds() {
            None => (0, 0, 0, 0),
            Some((x0, y0, x1, y1)) => (
                (x0 / cells.block_w).saturating_sub(1),
                (y0 / cells.block_h).saturating_sub(1),
                ((x1 - 1) / cells.block_w + 2).min(cells.cols),
                ((y1 - 1) / cells.block_h + 2).min(cells.rows),
            ),
        };
        let cols = interpolation_table(spans.width(), cells.block_w, region.0, region.2.max(1));
        let col_first: Vec<u32> = cols.iter().map(|c| c.0).collect();
        let col_second: Vec<u32> = cols.iter().map(|c| c.1).collect();
        let col_weight = cols.iter().map(|c| c.2).collect();
        // What `along_row`'s unchecked gathers rely on: every index inside a field row.
        let width = (region.2 - region.0).max(1);
        assert!(col_first.iter().chain(&col_second).all(|&i| i < width));
        let rows = interpolation_table(spans.height(), cells.block_h, region.1, region.3.max(1));
        BlurPlan {
            cells,
            kernel,
            region,
            spans,
            col_first,
            col_second,
            col_weight,
            rows,
        }
    }
}

/// The interpolation pass's buffers: two field rows interpolated along x at every sample column,
/// and the covered columns of the current group, of the next and of both.
struct Interp {
    fine0: Vec<f32>,
    fine1: Vec<f32>,
    cur: Vec<(u32, u32)>,
    next: Vec<(u32, u32)>,
    union: Vec<(u32, u32)>,
}

thread_local! {
    /// Scratch for the coarse fields; grown on demand and reused, so steady state allocates nothing.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// One source row padded with the kernel radius of zeros at each end, per worker thread.
    static PADDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Exact per-cell sums and counts of one cell row, per worker thread.
    static SUMS: RefCell<(Vec<u64>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// Per worker thread, the interpolation pass's buffers.
    static FINE: RefCell<Interp> = const {
        RefCell::new(Interp {
            fine0: Vec::new(),
            fine1: Vec::new(),
            cur: Vec::new(),
            next: Vec::new(),
            union: Vec::new(),
        })
    };
}

/// Blurs the covered samples of the channel (the whole channel: the cell means need all rows).
pub fn blur<T: Sample>(ch: ChannelMut<'_, T>, plan: &BlurPlan) {
    let (x0, y0, x1, y1) = plan.region;
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let n = rw * rh;
    let samples = plan.spans.count();
    // The buffer is taken out of the thread-local while in use (not borrowed): the passes below
    // run on the pool, and a worker waiting there may start another call's blur on this
    // very thread, which then simply starts with an empty buffer of its own.
    let mut scratch = SCRATCH.with(RefCell::take);
    let run = || {
        if scratch.len() < 4 * n {
            scratch.resize(4 * n, 0.0);
        }
        let (value, rest) = scratch.split_at_mut(n);
        let (weight, rest) = rest.split_at_mut(n);
        let (hval, hweight) = rest.split_at_mut(n);
        let hweight = &mut hweight[..n];

        // 1. Cell means (weight 1 where a cell has covered samples, 0 elsewhere), a cell row at a
        //    time; rows are independent, so large jobs spread them over the pool.
        let cells = &plan.cells;
        let reader = &ch;
        let cell_row = |cy: usize, v: &mut [f32], w: &mut [f32]| {
            SUMS.with(|cell| {
                let mut scratch = cell.borrow_mut();
                let (sums, counts) = &mut *scratch;
                if sums.len() < rw {
                    sums.resize(rw, 0);
                    counts.resize(rw, 0);
                }
                let (sums, counts) = (&mut sums[..rw], &mut counts[..rw]);
                sums.fill(0);
                counts.fill(0);
                accumulate_block_row(reader, &plan.spans, cells, y0 + cy as u32, x0, sums, counts);
                for (((v, w), &s), &n) in v
                    .iter_mut()
                    .zip(w.iter_mut())
                    .zip(sums.iter())
                    .zip(counts.iter())
                {
                    // Through i64 (sums stay far below 2^63): x86-64 converts signed integers
                    // to floats in one instruction, unsigned 64-bit ones in a branchy sequence.
                    (*v, *w) = if n > 0 {
                        (s as i64 as f32 / i64::from(n) as f32, 1.0)
                    } else {
                        (0.0, 0.0)
                    };
                }
            });
        };
        for_rows2(
            value,
            weight,
            rw,
            samples >= 2 * MIN_SAMPLES_PER_BAND,
            cell_row,
        );

        // 2. Normalised Gaussian on the cell grid: smooth value*weight and weight, separably,
        //    then divide (cells near covered ones always have weight; the rest are never read).
        let k = &plan.kernel;
        smooth_pass(k, rw, rh, true, (value, weight), (hval, hweight));
        smooth_pass(k, rw, rh, false, (hval, hweight), (value, weight));
        for (v, &w) in value.iter_mut().zip(weight.iter()) {
            *v = if w > 0.0 { *v / w } else { 0.0 };
        }
        let field = &*value;

        // 3. Bilinear interpolation of the smoothed field at each covered sample's centre: along x
        //    once per field row, then between the two field rows around each sample row.
        for_bands(ch, &plan.spans, 1, &|mut band: ChannelMut<'_, T>| {
            interpolate(&mut band, plan, field, rw);
        });
    };
    run();
    SCRATCH.with(|cell| cell.replace(scratch));
}

/// Taps of the cell-grid Gaussian at most: the cells are at least sigma wide (DESIGN: the cell is
/// `max(2, ceil(sigma_px))`), so sigma is at most one cell and the radius `ceil(3 sigma)` at most 3.
const MAX_TAPS: usize = 7;

/// One pass of the separable Gaussian, along rows or along columns, over `rw` x `rh` cells:
/// `dst = kernel * src` for the weighted values and for the weights alike; cells outside the
/// region count as empty. Each output cell sums its taps in kernel order, in a register
/// ([`crate::simd::weighted_rows`]): along columns the taps are whole rows, along rows they are
/// the row shifted, padded with zeros (adding `k * 0` changes nothing: the sums are never -0).
fn smooth_pass(
    kernel: &[f32],
    rw: usize,
    rh: usize,
    along_rows: bool,
    src: (&[f32], &[f32]),
    dst: (&mut [f32], &mut [f32]),
) {
    let r = kernel.len() / 2;
    // Each output row depends on the source only, so rows can go to different threads.
    let row = |y: usize, out_v: &mut [f32], out_w: &mut [f32]| {
        if along_rows {
            PADDED.with(|cell| {
                let mut pad = cell.borrow_mut();
                pad.clear();
                pad.resize(rw + 2 * r, 0.0);
                for (src, out) in [(src.0, &mut *out_v), (src.1, &mut *out_w)] {
                    pad[r..r + rw].copy_from_slice(&src[y * rw..][..rw]);
                    let mut taps: [(f32, &[f32]); MAX_TAPS] = [(0.0, &[]); MAX_TAPS];
                    for (j, &k) in kernel.iter().enumerate() {
                        taps[j] = (k, &pad[j..j + rw]);
                    }
                    crate::simd::weighted_rows(&taps[..kernel.len()], out);
                }
            });
        } else {
            for (src, out) in [(src.0, out_v), (src.1, out_w)] {
                let mut taps: [(f32, &[f32]); MAX_TAPS] = [(0.0, &[]); MAX_TAPS];
                let mut n = 0;
                for (j, &k) in kernel.iter().enumerate() {
                    // Source row y + j - r, where it is inside the region.
                    if let Some(p) = (y + j).checked_sub(r).filter(|&p| p < rh) {
                        taps[n] = (k, &src[p * rw..][..rw]);
                        n += 1;
                    }
                }
                crate::simd::weighted_rows(&taps[..n], out);
            }
        }
    };
    let (dv, dw) = (&mut dst.0[..rw * rh], &mut dst.1[..rw * rh]);
    let big = (rw * rh) as u64 * kernel.len() as u64 >= 4 * MIN_SAMPLES_PER_BAND;
    for_rows2(dv, dw, rw, big, row);
}

/// Writes the interpolated field into the covered samples of the band's rows.
///
/// Bilinear interpolation is separable: the sample rows between the same two field rows (a cell
/// row's worth, a "group") share those field rows interpolated along x (`fine0`, `fine1`), and
/// each sample is then one interpolation between two contiguous rows, a SIMD kernel with no
/// gathers. A field row is interpolated along x once: as a group's second row it is made for the
/// columns of that group and of the next, which reuses it as its first.
fn interpolate<T: Sample>(ch: &mut ChannelMut<'_, T>, plan: &BlurPlan, field: &[f32], rw: usize) {
    let (first, end) = plan.spans.trim_rows(ch.rows());
    if first >= end {
        return;
    }
    let width = plan.spans.width() as usize;
    let row_of = |j: u32| &field[j as usize * rw..][..rw];
    FINE.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let Interp {
            fine0,
            fine1,
            cur,
            next,
            union,
        } = &mut *scratch;
        if fine0.len() < width {
            fine0.resize(width, 0.0);
            fine1.resize(width, 0.0);
        }
        // The field row `fine1` holds, when it covers all the columns the current group needs.
        let mut held: Option<u32> = None;
        let mut group = next_group(plan, first, end, cur);
        loop {
            let (rows, j0, j1) = group.clone();
            let ahead = (rows.end < end).then(|| next_group(plan, rows.end, end, next));
            if cur.is_empty() {
                held = None;
            } else {
                if held == Some(j0) {
                    std::mem::swap(fine0, fine1);
                } else {
                    along_row(row_of(j0), plan, cur, fine0);
                }
                let shared = matches!(ahead, Some((_, n0, _)) if n0 == j1);
                union.clear();
                union.extend_from_slice(cur);
                if shared {
                    union.extend_from_slice(next);
                    merge_runs(union);
                }
                along_row(row_of(j1), plan, union, fine1);
                held = shared.then_some(j1);
                write_rows(ch, plan, rows, fine0, fine1);
            }
            match ahead {
                Some(g) => {
                    std::mem::swap(cur, next);
                    group = g;
                }
                None => break,
            }
        }
    });
}

/// The rows from `y` on (before `end`) that lie between the same two field rows, with those
/// rows; the columns they cover go to `runs` (sorted, disjoint).
fn next_group(
    plan: &BlurPlan,
    y: u32,
    end: u32,
    runs: &mut Vec<(u32, u32)>,
) -> (std::ops::Range<u32>, u32, u32) {
    let (j0, j1, _) = plan.rows[y as usize];
    let mut stop = y + 1;
    while stop < end && plan.rows[stop as usize].0 == j0 && plan.rows[stop as usize].1 == j1 {
        stop += 1;
    }
    runs.clear();
    // Most groups: one run a row, each meeting the ones before (a convex zone's rows): their
    // union is one run, with no sort.
    let mut hull: Option<(u32, u32)> = None;
    let single = (y..stop).all(|r| match (plan.spans.row(r), hull) {
        ([], _) => true,
        (&[run], None) => {
            hull = Some(run);
            true
        }
        (&[(a, b)], Some((lo, hi))) if a <= hi && b >= lo => {
            hull = Some((lo.min(a), hi.max(b)));
            true
        }
        _ => false,
    });
    if single {
        runs.extend(hull);
    } else {
        runs.extend((y..stop).flat_map(|r| plan.spans.row(r).iter().copied()));
        merge_runs(runs);
    }
    (y..stop, j0, j1)
}

/// Sorts runs and merges those that overlap or touch.
fn merge_runs(runs: &mut Vec<(u32, u32)>) {
    if runs.is_empty() {
        return;
    }
    runs.sort_unstable();
    let mut kept = 0;
    for i in 1..runs.len() {
        if runs[i].0 <= runs[kept].1 {
            runs[kept].1 = runs[kept].1.max(runs[i].1);
        } else {
            kept += 1;
            runs[kept] = runs[i];
        }
    }
    runs.truncate(kept + 1);
}

/// Writes the covered samples of `rows`, each between the two field rows `fine0` and `fine1`
/// (interpolated along x at every covered column) with its own row weight.
fn write_rows<T: Sample>(
    ch: &mut ChannelMut<'_, T>,
    plan: &BlurPlan,
    rows: std::ops::Range<u32>,
    fine0: &[f32],
    fine1: &[f32],
) {
    let step = ch.step();
    let (max, shift) = (ch.max_value(), ch.shift());
    for r in rows {
        let ty = plan.rows[r as usize].2;
        let row = ch.row_mut(r);
        for &(a, b) in plan.spans.row(r) {
            let (a, b) = (a as usize, b as usize);
            let (f0, f1) = (&fine0[a..b], &fine1[a..b]);
            if step == 1 {
                if let Some(bytes) = T::as_bytes_mut(&mut row[a..b]) {
                    crate::simd::lerp_rows_u8(f0, f1, ty, bytes);
                    continue;
                }
            }
            for (k, (&v0, &v1)) in f0.iter().zip(f1).enumerate() {
                // Non-negative, so truncating `+ 0.5` rounds half up (as the kernel).
                let value = ((v0 + (v1 - v0) * ty + 0.5) as u32).min(max);
                row[(a + k) * step] = T::from_word(value << shift);
            }
        }
    }
}

/// One field row interpolated along x at the sample columns of `runs`, into the same columns of
/// `fine`.
fn along_row(field_row: &[f32], plan: &BlurPlan, runs: &[(u32, u32)], fine: &mut [f32]) {
    for &(a, b) in runs {
        let (a, b) = (a as usize, b as usize);
        let (i0, i1, t) = (
            &plan.col_first[a..b],
            &plan.col_second[a..b],
            &plan.col_weight[a..b],
        );
        // SAFETY: every index is below the region's width, the length of a field row (asserted
        // in `BlurPlan::new`; `blur` passes rows of exactly that length); `level()` only returns
        // supported levels.
        unsafe {
            crate::simd::lerp_gather_unchecked(
                crate::simd::level(),
                field_row,
                i0,
                i1,
                t,
                &mut fine[a..b],
            )
        };
    }
}
