//! Mosaic: every covered sample becomes the mean of the covered samples of its block.

use crate::blocks::{Block, BlockPlan};
use crate::frame::{ChannelMut, Sample};

/// The sum of the values of the covered samples of `block`.
pub fn block_sum<T: Sample>(ch: &ChannelMut<'_, T>, plan: &BlockPlan, block: &Block) -> u64 {
    let step = ch.step();
    let mut sum: u64 = 0;
    for s in plan.segments(block) {
        let row = ch.row(s.y);
        if step == 1 {
            sum += row[s.x0 as usize..s.x1 as usize]
                .iter()
                .map(|&v| u64::from(ch.value(v)))
                .sum::<u64>();
        } else {
            sum += (s.x0..s.x1)
                .map(|x| u64::from(ch.value(row[x as usize * step])))
                .sum::<u64>();
        }
    }
    sum
}

/// Replaces every covered sample by its block's mean, rounded half up, for the blocks in the
/// view's rows (the view must start and end on block rows).
pub fn mosaic<T: Sample>(ch: &mut ChannelMut<'_, T>, plan: &BlockPlan) {
    let step = ch.step();
    let (first, end) = ch.rows();
    for by in first / plan.block_h..end.div_ceil(plan.block_h).min(plan.rows) {
        for block in plan.blocks_in_row(by) {
            let n = u64::from(block.count);
            let mean = ((2 * block_sum(ch, plan, block) + n) / (2 * n)) as u32;
            let word = ch.word(mean);
            for s in plan.segments(block) {
                let row = ch.row_mut(s.y);
                if step == 1 {
                    row[s.x0 as usize..s.x1 as usize].fill(word);
                } else {
                    (s.x0..s.x1).for_each(|x| row[x as usize * step] = word);
                }
            }
        }
    }
}
