//! Solid: every covered sample set to one value.

use crate::frame::{ChannelMut, Sample};
use crate::spans::Spans;

/// Writes `value` into every covered sample in the view's rows.
pub fn solid<T: Sample>(ch: &mut ChannelMut<'_, T>, spans: &Spans, value: u32) {
    let step = ch.step();
    let word = ch.word(value);
    let (first, end) = spans.trim_rows(ch.rows());
    for y in first..end {
        let runs = spans.row(y);
        if runs.is_empty() {
            continue;
        }
        let row = ch.row_mut(y);
        for &(a, b) in runs {
            let (a, b) = (a as usize, b as usize);
            if step == 1 {
                row[a..b].fill(word);
            } else {
                row[a * step..(b - 1) * step + 1]
                    .iter_mut()
                    .step_by(step)
                    .for_each(|s| *s = word);
            }
        }
    }
}
