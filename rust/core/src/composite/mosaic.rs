//! Mosaic: every covered sample becomes the mean of the covered samples of its block.

use std::cell::RefCell;

use crate::blocks::{accumulate_block_row, BlockGrid};
use crate::frame::{ChannelMut, Sample};
use crate::raster::Spans;

thread_local! {
    /// Per-block sums and counts of one block row; grown on demand, so steady state allocates
    /// nothing.
    static SCRATCH: RefCell<(Vec<u64>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Fills a piece of a row: most pieces are one block wide (8 or 16 samples), which a fixed-size
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
pub fn mosaic<T: Sample>(ch: &mut ChannelMut<'_, T>, spans: &Spans, grid: &BlockGrid) {
    let step = ch.step();
    let (first, end) = ch.rows();
    let cols = grid.cols as usize;
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let (sums, counts) = &mut *scratch;
        if sums.len() < cols {
            sums.resize(cols, 0);
            counts.resize(cols, 0);
        }
        for by in first / grid.block_h..end.div_ceil(grid.block_h).min(grid.rows) {
            let (y0, y1) = grid.block_rows(by, spans.height());
            if (y0..y1).all(|y| spans.row(y).is_empty()) {
                continue;
            }
            sums[..cols].fill(0);
            counts[..cols].fill(0);
            accumulate_block_row(
                ch,
                spans,
                grid,
                by,
                0,
                &mut sums[..cols],
                &mut counts[..cols],
            );
            for (s, &n) in sums[..cols].iter_mut().zip(&counts[..cols]) {
                if n > 0 {
                    let n = u64::from(n);
                    *s = (2 * *s + n) / (2 * n);
                }
            }
            let means = &sums[..cols];
            for y in y0..y1 {
                let runs = spans.row(y);
                if runs.is_empty() {
                    continue;
                }
                let shift = ch.shift();
                let row = ch.row_mut(y);
                for &(a, b) in runs {
                    grid.split_run(a, b, |bx, x0, x1| {
                        let word = T::from_word((means[bx as usize] as u32) << shift);
                        let (x0, x1) = (x0 as usize, x1 as usize);
                        if step == 1 {
                            fill_short(&mut row[x0..x1], word);
                        } else {
                            (x0..x1).for_each(|x| row[x * step] = word);
                        }
                    });
                }
            }
        }
    });
}
