//! A block grid anchored at the frame origin, and the per-block sums of covered samples that
//! mosaic and blur need, gathered a row at a time.

use std::cell::RefCell;

use crate::frame::{ChannelMut, Sample};
use crate::spans::Spans;

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
    /// Per-column sums (16-bit, emptied every [`ROWS_PER_FLUSH`] rows) and per-block changes of
    /// the whole-block cover count along one block row, grown on demand, so steady state
    /// allocates nothing.
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
    if let Some(span) = spans.column_span(first..end) {
        accumulate_span(ch, spans, grid, by, span, col0, sums, counts);
    }
}

/// [`accumulate_block_row`] for a caller that already knows the columns `span` the block row's
/// runs reach ([`Spans::column_span`]).
#[allow(clippy::too_many_arguments)]
pub fn accumulate_span<T: Sample>(
    ch: &ChannelMut<'_, T>,
    spans: &Spans,
    grid: &BlockGrid,
    by: u32,
    span: (u32, u32),
    col0: u32,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let (first, end) = grid.block_rows(by, spans.height());
    if ch.step() == 1 && T::as_bytes(ch.row(first)).is_some() {
        accumulate_columns(ch, spans, grid, (first, end), span, col0, sums, counts);
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
#[allow(clippy::too_many_arguments)]
fn accumulate_columns<T: Sample>(
    ch: &ChannelMut<'_, T>,
    spans: &Spans,
    grid: &BlockGrid,
    (first, end): (u32, u32),
    (lo, hi): (u32, u32),
    col0: u32,
    sums: &mut [u64],
    counts: &mut [u32],
) {
    let rows = first..end;
    let (lo, n) = (lo as usize, (hi - lo) as usize);
    let bw = grid.block_w as usize;
    // Blocks `first_block..first_block + blocks` meet the columns `lo..lo + n`; their totals go
    // to `sums[bx - col0]`.
    let first_block = lo / bw;
    let blocks = (lo + n).div_ceil(bw) - first_block;
    let base = first_block - col0 as usize;
    // Adds each block's column sums to its total and empties the columns. A block's columns
    // hold at most 257 * 255 each and a block is at most MAX_DIMENSION wide, so u32 suffices.
    let reduce = |acc: &mut [u16], sums: &mut [u64]| {
        let sum = |cols: &[u16]| u64::from(cols.iter().map(|&v| u32::from(v)).sum::<u32>());
        let totals = &mut sums[base..base + blocks];
        // A first block cut by `lo`, whole blocks, then a last one cut by `lo + n`.
        let head = ((first_block + 1) * bw - lo).min(n);
        totals[0] += sum(&acc[..head]);
        let whole = (n - head) / bw;
        let (middle, tail) = acc[head..].split_at(whole * bw);
        let inner = &mut totals[1..1 + whole];
        // The usual widths as constants, so the compiler unrolls and vectorises each block.
        match bw {
            4 => whole_blocks::<4>(middle, inner),
            8 => whole_blocks::<8>(middle, inner),
            16 => whole_blocks::<16>(middle, inner),
            _ => {
                for (total, cols) in inner.iter_mut().zip(middle.chunks_exact(bw)) {
                    *total += sum(cols);
                }
            }
        }
        if !tail.is_empty() {
            totals[1 + whole] += sum(tail);
        }
        acc.fill(0);
    };
    COLUMNS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (acc, full) = &mut *scratch;
        acc.clear();
        acc.resize(n, 0);
        // Counts: the partial blocks at a run's ends directly, the whole blocks between them as
        // +bw/-bw changes along the block row, summed once at the end.
        full.clear();
        full.resize(blocks + 1, 0);
        let counts = &mut counts[base..base + blocks];
        let mut pending = 0;
        for y in rows {
            let runs = spans.row(y);
            if runs.is_empty() {
                continue;
            }
            ch.prefetch_runs(y + ChannelMut::<T>::PREFETCH_AHEAD, spans);
            let Some(bytes) = T::as_bytes(ch.row(y)) else {
                unreachable!("checked by the caller");
            };
            for &(a, b) in runs {
                let (a, b) = (a as usize, b as usize);
                crate::simd::add_u8_to_u16(&mut acc[a - lo..b - lo], &bytes[a..b]);
                let (ba, bb) = (a / bw, (b - 1) / bw);
                let (ia, ib) = (ba - first_block, bb - first_block);
                if ba == bb {
                    counts[ia] += (b - a) as u32;
                } else {
                    counts[ia] += ((ba + 1) * bw - a) as u32;
                    counts[ib] += (b - bb * bw) as u32;
                    full[ia + 1] += bw as i32;
                    full[ib] -= bw as i32;
                }
            }
            pending += 1;
            if pending == ROWS_PER_FLUSH {
                reduce(acc, sums);
                pending = 0;
            }
        }
        reduce(acc, sums);
        let mut whole = 0;
        for (count, &change) in counts.iter_mut().zip(full.iter()) {
            whole += change;
            *count += whole as u32;
        }
    });
}

/// Adds the sum of each `W` columns to its block's total.
fn whole_blocks<const W: usize>(cols: &[u16], totals: &mut [u64]) {
    for (total, block) in totals.iter_mut().zip(cols.chunks_exact(W)) {
        *total += u64::from(block.iter().map(|&v| u32::from(v)).sum::<u32>());
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
        let spans = Spans::from_rows(5, 3, vec![vec![(1, 5)], vec![], vec![(0, 1)]]).unwrap();
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

    #[test]
    fn column_sums_match_a_direct_count_for_random_covers() {
        // A small xorshift generator: covers of 1..3 runs per row, blocks of many shapes, block
        // rows taller than a flush of the 16-bit column sums.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for case in 0..300 {
            let (w, h) = (
                1 + next(70) as u32,
                1 + next(if case % 10 == 0 { 600 } else { 40 }) as u32,
            );
            let saturated = case % 20 == 0;
            let h = if saturated { 258 + next(300) as u32 } else { h };
            let bw = 1 + next(20) as u32;
            let bh = if saturated {
                h
            } else {
                1 + next(u64::from(h)) as u32
            };
            let rows: Vec<Vec<(i64, i64)>> = (0..h)
                .map(|_| {
                    if saturated {
                        return vec![(0, i64::from(w))];
                    }
                    (0..next(4))
                        .map(|_| {
                            let a = next(u64::from(w)) as i64;
                            (a, a + 1 + next(u64::from(w)) as i64)
                        })
                        .collect()
                })
                .collect();
            let spans = Spans::from_rows(w, h, rows).unwrap();
            let grid = BlockGrid::new(w, h, bw, bh);
            let mut data: Vec<u8> = (0..w * h).map(|_| next(256) as u8).collect();
            if saturated {
                // Saturated samples: a block row over 257 rows must empty its u16 columns.
                data.fill(255);
            }
            let want = |by: u32| {
                let (mut s, mut c) = (
                    vec![0u64; grid.cols as usize],
                    vec![0u32; grid.cols as usize],
                );
                let (y0, y1) = grid.block_rows(by, h);
                for y in y0..y1 {
                    for x in 0..w {
                        if spans.contains(x, y) {
                            s[(x / bw) as usize] += u64::from(data[(y * w + x) as usize]);
                            c[(x / bw) as usize] += 1;
                        }
                    }
                }
                (s, c)
            };
            let expected: Vec<_> = (0..grid.rows).map(want).collect();
            let plane = PlaneMut::new(&mut data, w as usize, h as usize, w as usize).unwrap();
            let mut frame =
                FrameMut::new(PixelFormat::Gray, w, h, [Some(plane), None, None]).unwrap();
            let ch = frame.channel(PixelFormat::Gray.channels()[0]);
            for by in 0..grid.rows {
                let (mut s, mut c) = (
                    vec![0u64; grid.cols as usize],
                    vec![0u32; grid.cols as usize],
                );
                accumulate_block_row(&ch, &spans, &grid, by, 0, &mut s, &mut c);
                assert_eq!((s, c), expected[by as usize], "case {case} block row {by}");
            }
        }
    }
}
