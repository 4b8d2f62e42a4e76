//! Solid: every covered sample set to one value.

use crate::frame::ChannelMut;
use crate::raster::Spans;

/// Writes `value` into every covered sample of the channel.
pub fn solid(ch: &mut ChannelMut<'_, '_>, spans: &Spans, value: u8) {
    let step = ch.step();
    for y in 0..spans.height() {
        let runs = spans.row(y);
        if runs.is_empty() {
            continue;
        }
        let row = ch.row_mut(y);
        for &(a, b) in runs {
            let (a, b) = (a as usize, b as usize);
            if step == 1 {
                row[a..b].fill(value);
            } else {
                row[a * step..(b - 1) * step + 1]
                    .iter_mut()
                    .step_by(step)
                    .for_each(|s| *s = value);
            }
        }
    }
}
