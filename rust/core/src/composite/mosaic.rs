//! Mosaic: every covered sample becomes the mean of the covered samples of its block.

use crate::blocks::{Block, BlockPlan};
use crate::frame::ChannelMut;

/// The mean of the covered samples of `block`, rounded half up.
pub fn block_mean(ch: &ChannelMut<'_, '_>, plan: &BlockPlan, block: &Block) -> u8 {
    let step = ch.step();
    let mut sum: u64 = 0;
    for s in plan.segments(block) {
        let row = ch.row(s.y);
        if step == 1 {
            sum += row[s.x0 as usize..s.x1 as usize]
                .iter()
                .map(|&v| u64::from(v))
                .sum::<u64>();
        } else {
            sum += (s.x0..s.x1)
                .map(|x| u64::from(row[x as usize * step]))
                .sum::<u64>();
        }
    }
    let n = u64::from(block.count);
    ((2 * sum + n) / (2 * n)) as u8
}

/// Replaces every covered sample by its block's mean.
pub fn mosaic(ch: &mut ChannelMut<'_, '_>, plan: &BlockPlan) {
    let step = ch.step();
    for block in plan.blocks() {
        let mean = block_mean(ch, plan, block);
        for s in plan.segments(block) {
            let row = ch.row_mut(s.y);
            if step == 1 {
                row[s.x0 as usize..s.x1 as usize].fill(mean);
            } else {
                (s.x0..s.x1).for_each(|x| row[x as usize * step] = mean);
            }
        }
    }
}
