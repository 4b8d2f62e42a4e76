//! A block grid anchored at the frame origin, and the per-block sums of covered samples that
//! mosaic and blur need, gathered a row at a time.

use std::cell::RefCell;

use crate::frame::{ChannelMut, Sample};
use crate::raster::Spans;

/// A grid of `block_w` x `block_h` blocks over a `cols` x `rows` layout (edge blocks may be cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockGrid {
    /// Block width in samples.
    pub block_w: u32,
    /// Block height in rows.
    pub block_h: u32,
    /// Blocks per row of the grid.
    pub cols: u32,
    /// Block rows.
    pub rows: u32,
}

impl BlockGrid {
    /// The grid of `block_w` x `block_h` blocks over a `width` x `height` plane.
    pub fn new(width: u32, height: u32, block_w: u32, block_h: u32) -> Self {
        assert!(block_w > 0 && block_h > 0);
        BlockGrid {
            block_w,
            block_h,
            cols: width.div_ceil(block_w),
            rows: height.div_ceil(block_h),
        }
    }

    /// Rows `[first, end)` of block row `by`, cut at `height`.
    pub fn block_rows(&self, by: u32, height: u32) -> (u32, u32) {
        (by * self.block_h, ((by + 1) * self.block_h).min(height))
    }

    /// Calls `piece(bx, x0, x1)` for each part of run `[a, b)` inside one block column.
    #[inline]
    pub fn split_run(&self, a: u32, b: u32, mut piece: impl FnMut(u32, u32, u32)) {
        // One division per run; the block edges after the first are a step apart.
        let mut bx = a / self.block_w;
        let mut x = a;
        let mut edge = (bx + 1) * self.block_w;
        while x < b {
            let end = edge.min(b);
            piece(bx, x, end);
            x = end;
            bx += 1;
            edge += self.block_w;
        }
    }
}

thread_local! {
    /// Per-column sums (16-bit, emptied every [`ROWS_PER_FLUSH`] rows) and per-column cover
    /// changes of one block row, grown on demand, so steady state allocates nothing.
    static COLUMNS: RefCell<(Vec<u16>, Vec<i32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Rows of bytes a 16-bit column sum holds without overflow: 257 * 255 = 65535.
const ROWS_PER_FLUSH: usize = 257;

/// Adds the sum and count of the covered samples of each block in block row `by` to
/// `sums[bx - col0]` and `counts[bx - col0]`. Blocks outside `col0..col0 + sums.len()` must hold
/// no covered samples.
pub fn accumulate_block_row<T: Sample>(
    ch: &ChannelMut<'_, T>,
    spans: &Spans,
    grid: &BlockGrid,
    by: u32,
    col0: u32,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let (first, end) = grid.block_rows(by, spans.height());
    if ch.step() == 1 && T::as_bytes(ch.row(first)).is_some() {
        accumulate_columns(ch, spans, grid, (first, end), col0, sums, counts);
        return;
    }
    let step = ch.step();
    let shift = ch.shift();
    for y in first..end {
        let row = ch.row(y);
        for &(a, b) in spans.row(y) {
            grid.split_run(a, b, |bx, x0, x1| {
                let (x0, x1) = (x0 as usize, x1 as usize);
                let sum = if step == 1 {
                    T::sum_values(&row[x0..x1], shift)
                } else {
                    (x0..x1)
                        .map(|x| u64::from(row[x * step].word() >> shift))
                        .sum()
                };
                let i = (bx - col0) as usize;
                sums[i] += sum;
                counts[i] += (x1 - x0) as u32;
            });
        }
    }
}

/// [`accumulate_block_row`] for contiguous bytes, without any per-block work per row: the covered
/// bytes of each row are added column-wise into 16-bit counters (a SIMD add), and the cover is
/// noted as +1/-1 at each run's ends; the blocks are summed from the columns once at the end.
fn accumulate_columns<T: Sample>(
    ch: &ChannelMut<'_, T>,
    spans: &Spans,
    grid: &BlockGrid,
    (first, end): (u32, u32),
    col0: u32,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let rows = first..end;
    let lo = rows
        .clone()
        .filter_map(|y| spans.row(y).first())
        .map(|r| r.0)
        .min();
    let hi = rows
        .clone()
        .filter_map(|y| spans.row(y).last())
        .map(|r| r.1)
        .max();
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return;
    };
    let (lo, n) = (lo as usize, (hi - lo) as usize);
    let bw = grid.block_w as usize;
    let col0 = col0 as usize;
    // Block `col0 + i` holds the columns `edges[i]..edges[i + 1]` of `lo..lo + n` (relative to
    // lo); adds each block's column sums (and, at the end, its cover count) to its totals.
    let first_block = lo / bw;
    let reduce = |acc: &mut [u16], diff: Option<&[i32]>, sums: &mut [u64], counts: &mut [u32]| {
        let (mut start, mut edge, mut i) = (0, (first_block + 1) * bw - lo, first_block - col0);
        let mut cover = 0i32;
        while start < n {
            let stop = edge.min(n);
            sums[i] += acc[start..stop].iter().map(|&v| u64::from(v)).sum::<u64>();
            if let Some(diff) = diff {
                let mut count = 0;
                for &d in &diff[start..stop] {
                    cover += d;
                    count += cover as u32;
                }
                counts[i] += count;
            }
            (start, edge, i) = (stop, edge + bw, i + 1);
        }
        acc.fill(0);
    };
    COLUMNS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (acc, diff) = &mut *scratch;
        acc.clear();
        acc.resize(n, 0);
        diff.clear();
        diff.resize(n + 1, 0);
        let mut pending = 0;
        for y in rows {
            let runs = spans.row(y);
            if runs.is_empty() {
                continue;
            }
            let Some(bytes) = T::as_bytes(ch.row(y)) else {
                unreachable!("checked by the caller");
            };
            for &(a, b) in runs {
                let (a, b) = (a as usize, b as usize);
                crate::simd::add_u8_to_u16(&mut acc[a - lo..b - lo], &bytes[a..b]);
                diff[a - lo] += 1;
                diff[b - lo] -= 1;
            }
            pending += 1;
            if pending == ROWS_PER_FLUSH {
                reduce(acc, None, sums, counts);
                pending = 0;
            }
        }
        reduce(acc, Some(diff), sums, counts);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PixelFormat;
    use crate::frame::{FrameMut, PlaneMut};

    #[test]
    fn sums_covered_samples_per_block() {
        // 5x3 gray, blocks of 2x2; row 0 covers x 1..5, row 2 covers x 0..1.
        let spans = Spans::from_rows(5, 3, vec![vec![(1, 5)], vec![], vec![(0, 1)]]);
        let grid = BlockGrid::new(5, 3, 2, 2);
        assert_eq!((grid.cols, grid.rows), (3, 2));
        let mut data: Vec<u8> = (1..=15).collect();
        let plane = PlaneMut::new(&mut data, 5, 3, 5).unwrap();
        let mut frame = FrameMut::new(PixelFormat::Gray, 5, 3, [Some(plane), None, None]).unwrap();
        let ch = frame.channel(PixelFormat::Gray.channels()[0]);
        let (mut sums, mut counts) = (vec![0u64; 3], vec![0u32; 3]);
        accumulate_block_row(&ch, &spans, &grid, 0, 0, &mut sums, &mut counts);
        assert_eq!((sums, counts), (vec![2, 3 + 4, 5], vec![1, 2, 1]));
        let (mut sums, mut counts) = (vec![0u64; 1], vec![0u32; 1]);
        accumulate_block_row(&ch, &spans, &grid, 1, 0, &mut sums, &mut counts);
        assert_eq!((sums, counts), (vec![11], vec![1]));
    }
}
