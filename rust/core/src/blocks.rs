//! A block grid anchored at the frame origin, and the per-block sums of covered samples that
//! mosaic and blur need, gathered a row at a time.

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
    let step = ch.step();
    let shift = ch.shift();
    let (first, end) = grid.block_rows(by, spans.height());
    for y in first..end {
        let runs = spans.row(y);
        if runs.is_empty() {
            continue;
        }
        let row = ch.row(y);
        if step == 1 {
            if let Some(bytes) = T::as_bytes(row) {
                for &(a, b) in runs {
                    let (bw, c0) = (grid.block_w as usize, col0 as usize);
                    crate::simd::add_block_sums_u8(
                        bytes,
                        (a as usize, b as usize),
                        bw,
                        c0,
                        sums,
                        counts,
                    );
                }
                continue;
            }
        }
        for &(a, b) in runs {
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
