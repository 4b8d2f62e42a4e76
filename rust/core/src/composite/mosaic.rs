//! Mosaic: every covered sample becomes the mean of the covered samples of its block.

use std::cell::RefCell;

use crate::blocks::{accumulate_span, BlockGrid};
use crate::frame::{ChannelMut, Sample};
use crate::spans::Spans;

thread_local! {
    /// Per-block sums and counts of one block row; grown on demand, so steady state allocates
    /// nothing.
    static SCRATCH: RefCell<(Vec<u64>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Fills a block's piece of a row: most are one block wide (8 or 16 samples), which a fixed-size
/// copy writes with one or two stores instead of a call to `memset`.
#[inline]
fn fill_short<T: Sample>(dst: &mut [T], word: T) {
    match dst.len() {
        16 => dst.copy_from_slice(&[word; 16]),
        8 => dst.copy_from_slice(&[word; 8]),
        _ => dst.fill(word),
    }
}

/// Replaces every covered sample by its block's mean, rounded half up, for the block rows in the
/// view (which must start and end on block rows): first the sums of a block row, then the writes.
/// For contiguous samples the block row's means are laid out once as a row of samples, and each
/// covered run is a plain copy from it.
pub fn mosaic<T: Sample>(ch: &mut ChannelMut<'_, T>, spans: &Spans, grid: &BlockGrid) {
    let step = ch.step();
    let shift = ch.shift();
    let (first, end) = spans.trim_rows(ch.rows());
    let cols = grid.cols as usize;
    let bw = grid.block_w as usize;
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (sums, counts) = &mut *scratch;
        if sums.len() < cols {
            sums.resize(cols, 0);
            counts.resize(cols, 0);
        }
        for by in first / grid.block_h..end.div_ceil(grid.block_h).min(grid.rows) {
            let (y0, y1) = grid.block_rows(by, spans.height());
            let rows = y0..y1;
            let Some((lo, hi)) = spans.column_span(rows.clone()) else {
                continue;
            };
            let (lo, hi) = (lo as usize, hi as usize);
            let blocks = lo / bw..hi.div_ceil(bw);
            sums[blocks.clone()].fill(0);
            counts[blocks.clone()].fill(0);
            accumulate_span(
                ch,
                spans,
                grid,
                by,
                (lo as u32, hi as u32),
                0,
                &mut sums[..cols],
                &mut counts[..cols],
            );
            let word = |bx: usize| {
                let n = u64::from(counts[bx]).max(1);
                T::from_word((((2 * sums[bx] + n) / (2 * n)) as u32) << shift)
            };
            if step == 1 {
                T::with_scratch_row(hi - lo, |pattern| {
                    for bx in blocks {
                        let (a, b) = ((bx * bw).max(lo), ((bx + 1) * bw).min(hi));
                        fill_short(&mut pattern[a - lo..b - lo], word(bx));
                    }
                    for y in rows {
                        let row = ch.row_mut(y);
                        for &(a, b) in spans.row(y) {
                            let (a, b) = (a as usize, b as usize);
                            row[a..b].copy_from_slice(&pattern[a - lo..b - lo]);
                        }
                    }
                });
            } else {
                for y in rows {
                    let row = ch.row_mut(y);
                    for &(a, b) in spans.row(y) {
                        grid.split_run(a, b, |bx, x0, x1| {
                            let w = word(bx as usize);
                            (x0 as usize..x1 as usize).for_each(|x| row[x * step] = w);
                        });
                    }
                }
            }
        }
    });
}
