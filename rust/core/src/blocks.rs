//! Covered samples grouped by the cells of a block grid anchored at the frame origin.

use crate::raster::Spans;

/// A run of covered samples `[x0, x1)` in row `y`, inside one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Row.
    pub y: u32,
    /// First covered sample.
    pub x0: u32,
    /// One past the last covered sample.
    pub x1: u32,
}

/// The covered part of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Block column in the grid.
    pub bx: u32,
    /// Block row in the grid.
    pub by: u32,
    /// Number of covered samples in the block (at least 1).
    pub count: u32,
    first: u32,
    end: u32,
}

/// Every block with at least one covered sample, in raster order of blocks, with its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockPlan {
    /// Block width in samples of the plane.
    pub block_w: u32,
    /// Block height in rows of the plane.
    pub block_h: u32,
    /// Blocks per row of the grid (the last one may be cut by the frame edge).
    pub cols: u32,
    /// Block rows in the grid.
    pub rows: u32,
    blocks: Vec<Block>,
    segments: Vec<Segment>,
    /// `row_start[by]..row_start[by + 1]` indexes the blocks of block row `by`.
    row_start: Vec<u32>,
}

impl BlockPlan {
    /// Partitions the covered samples of `spans` into `block_w` x `block_h` blocks.
    pub fn new(spans: &Spans, block_w: u32, block_h: u32) -> Self {
        assert!(block_w > 0 && block_h > 0);
        let cols = spans.width().div_ceil(block_w);
        let rows = spans.height().div_ceil(block_h);
        let mut blocks = Vec::new();
        let mut segments = Vec::new();
        let mut pieces: Vec<(u32, Segment)> = Vec::new();
        let mut row_start = Vec::with_capacity(rows as usize + 1);
        for by in 0..rows {
            row_start.push(blocks.len() as u32);
            pieces.clear();
            let y_end = ((by + 1) * block_h).min(spans.height());
            for y in by * block_h..y_end {
                for &(a, b) in spans.row(y) {
                    let mut x = a;
                    while x < b {
                        let bx = x / block_w;
                        let end = ((bx + 1) * block_w).min(b);
                        pieces.push((bx, Segment { y, x0: x, x1: end }));
                        x = end;
                    }
                }
            }
            pieces.sort_by_key(|&(bx, s)| (bx, s.y));
            let mut i = 0;
            while i < pieces.len() {
                let bx = pieces[i].0;
                let first = segments.len() as u32;
                let mut count = 0;
                while i < pieces.len() && pieces[i].0 == bx {
                    let s = pieces[i].1;
                    count += s.x1 - s.x0;
                    segments.push(s);
                    i += 1;
                }
                blocks.push(Block {
                    bx,
                    by,
                    count,
                    first,
                    end: segments.len() as u32,
                });
            }
        }
        row_start.push(blocks.len() as u32);
        BlockPlan {
            block_w,
            block_h,
            cols,
            rows,
            blocks,
            segments,
            row_start,
        }
    }

    /// The blocks that hold covered samples.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The blocks of block row `by` that hold covered samples.
    pub fn blocks_in_row(&self, by: u32) -> &[Block] {
        let by = by as usize;
        &self.blocks[self.row_start[by] as usize..self.row_start[by + 1] as usize]
    }

    /// The segments of one block.
    pub fn segments(&self, block: &Block) -> &[Segment] {
        &self.segments[block.first as usize..block.end as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_runs_at_block_edges() {
        let spans = Spans::from_rows(5, 3, vec![vec![(1, 5)], vec![], vec![(0, 1)]]);
        let plan = BlockPlan::new(&spans, 2, 2);
        assert_eq!((plan.cols, plan.rows), (3, 2));
        let got: Vec<_> = plan
            .blocks()
            .iter()
            .map(|b| {
                (
                    b.bx,
                    b.by,
                    b.count,
                    plan.segments(b)
                        .iter()
                        .map(|s| (s.y, s.x0, s.x1))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, 1, vec![(0, 1, 2)]),
                (1, 0, 2, vec![(0, 2, 4)]),
                (2, 0, 1, vec![(0, 4, 5)]),
                (0, 1, 1, vec![(2, 0, 1)]),
            ]
        );
    }
}
