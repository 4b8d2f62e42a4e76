//! The information-bounded blur (DESIGN §3): cell means, Gaussian on the cell grid, bilinear back.
//!
//! The output inside the cover is a function of the cell means (and the fixed geometry) alone, so
//! it carries at most one value per cell, however it looks.

use std::cell::RefCell;

use crate::blocks::{accumulate_block_row, BlockGrid};
use crate::frame::{ChannelMut, Sample};
use crate::parallel::{for_bands, for_rows2, MIN_SAMPLES_PER_BAND};
use crate::raster::Spans;

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
    /// the second (bilinear interpolation, clamped at the region's edges), as three arrays so the
    /// SIMD kernels can load them directly.
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
        let radius = (3.0 * sigma_cells).ceil().max(1.0) as i32;
        let kernel = (-radius..=radius)
            .map(|k| (-(f64::from(k * k)) / (2.0 * sigma_cells * sigma_cells)).exp() as f32)
            .collect();
        // The cells holding covered samples, grown by one and clamped to the grid.
        let region = match spans.row_range() {
            None => (0, 0, 0, 0),
            Some((y0, y1)) => {
                let rows = y0..y1;
                let x0 = rows
                    .clone()
                    .filter_map(|y| spans.row(y).first())
                    .map(|r| r.0)
                    .min()
                    .unwrap_or(0);
                let x1 = rows
                    .filter_map(|y| spans.row(y).last())
                    .map(|r| r.1)
                    .max()
                    .unwrap_or(1);
                (
                    (x0 / cells.block_w).saturating_sub(1),
                    (y0 / cells.block_h).saturating_sub(1),
                    ((x1 - 1) / cells.block_w + 2).min(cells.cols),
                    ((y1 - 1) / cells.block_h + 2).min(cells.rows),
                )
            }
        };
        let cols = interpolation_table(spans.width(), cells.block_w, region.0, region.2.max(1));
        let col_first = cols.iter().map(|c| c.0).collect();
        let col_second = cols.iter().map(|c| c.1).collect();
        let col_weight = cols.iter().map(|c| c.2).collect();
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

thread_local! {
    /// Scratch for the coarse fields; grown on demand and reused, so steady state allocates nothing.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Exact per-cell sums and counts of one cell row, per worker thread.
    static SUMS: RefCell<(Vec<u64>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// One blended field row per worker thread, for the interpolation pass.
    static BLEND: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
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
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
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
                    (*v, *w) = if n > 0 {
                        (s as f32 / n as f32, 1.0)
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

        // 3. Bilinear interpolation of the smoothed field at each covered sample's centre: blend
        //    the two field rows around the sample row once, then interpolate along the row.
        for_bands(ch, &plan.spans, 1, &|mut band: ChannelMut<'_, T>| {
            BLEND.with(|b| {
                let mut blended = b.borrow_mut();
                if blended.len() < rw {
                    blended.resize(rw, 0.0);
                }
                interpolate(&mut band, plan, field, &mut blended[..rw]);
            });
        });
    });
}

/// One pass of the separable Gaussian, along rows or along columns, over `rw` x `rh` cells:
/// `dst = kernel * src` for the weighted values and for the weights alike; cells outside the
/// region count as empty.
fn smooth_pass(
    kernel: &[f32],
    rw: usize,
    rh: usize,
    along_rows: bool,
    src: (&[f32], &[f32]),
    dst: (&mut [f32], &mut [f32]),
) {
    let r = (kernel.len() / 2) as i64;
    let len = if along_rows { rw } else { rh };
    // Each output row depends on the source only, so rows can go to different threads.
    let row = |y: usize, out_v: &mut [f32], out_w: &mut [f32]| {
        for x in 0..rw {
            let pos = if along_rows { x } else { y } as i64;
            let (mut sv, mut sw) = (0.0f32, 0.0f32);
            for (j, w) in kernel.iter().enumerate() {
                let p = pos + j as i64 - r;
                if p >= 0 && (p as usize) < len {
                    let i = if along_rows {
                        y * rw + p as usize
                    } else {
                        p as usize * rw + x
                    };
                    sv += w * src.0[i];
                    sw += w * src.1[i];
                }
            }
            out_v[x] = sv;
            out_w[x] = sw;
        }
    };
    let (dv, dw) = (&mut dst.0[..rw * rh], &mut dst.1[..rw * rh]);
    let big = (rw * rh) as u64 * kernel.len() as u64 >= 4 * MIN_SAMPLES_PER_BAND;
    for_rows2(dv, dw, rw, big, row);
}

/// Writes the interpolated field into the covered samples of the band's rows.
fn interpolate<T: Sample>(
    ch: &mut ChannelMut<'_, T>,
    plan: &BlurPlan,
    field: &[f32],
    blended: &mut [f32],
) {
    let rw = blended.len();
    let step = ch.step();
    let (max, shift) = (ch.max_value(), ch.shift());
    let (first, end) = ch.rows();
    for y in first..end {
        let runs = plan.spans.row(y);
        if runs.is_empty() {
            continue;
        }
        let (j0, j1, ty) = plan.rows[y as usize];
        let (r0, r1) = (
            &field[j0 as usize * rw..][..rw],
            &field[j1 as usize * rw..][..rw],
        );
        for ((b, &a0), &a1) in blended.iter_mut().zip(r0).zip(r1) {
            *b = a0 + (a1 - a0) * ty;
        }
        let row = ch.row_mut(y);
        for &(a, b) in runs {
            let (a, b) = (a as usize, b as usize);
            let (i0, i1, t) = (
                &plan.col_first[a..b],
                &plan.col_second[a..b],
                &plan.col_weight[a..b],
            );
            if step == 1 {
                if let Some(bytes) = T::as_bytes_mut(&mut row[a..b]) {
                    // SAFETY: `interpolation_table` clamps every index into the region, whose
                    // width is `blended.len()`; `level()` only returns supported levels.
                    unsafe {
                        crate::simd::lerp_u8_unchecked(
                            crate::simd::level(),
                            blended,
                            i0,
                            i1,
                            t,
                            bytes,
                        )
                    };
                    continue;
                }
            }
            for (k, x) in (a..b).enumerate() {
                let (v0, v1) = (blended[i0[k] as usize], blended[i1[k] as usize]);
                // Non-negative, so truncating `+ 0.5` rounds half up.
                let value = ((v0 + (v1 - v0) * t[k] + 0.5) as u32).min(max);
                row[x * step] = T::from_word(value << shift);
            }
        }
    }
}
