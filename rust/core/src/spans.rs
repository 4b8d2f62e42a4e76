//! Covers as row spans: the covered samples of one plane, as sorted runs per row, and the
//! operations the compiler needs on them (chroma covers, unions).
//!
//! The runs grow with the polygons' complexity (up to half a row per row), so they are allocated
//! fallibly: running out of memory is an [`Error::OutOfMemory`], not an abort. Planes are at
//! most [`MAX_DIMENSION`] samples on a side.

use crate::error::{Error, Result};
use crate::format::MAX_DIMENSION;

/// Covered pixels of one plane, as sorted, disjoint, non-adjacent half-open runs per row.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Spans {
    width: u32,
    height: u32,
    /// `row_start[y]..row_start[y + 1]` indexes the runs of row `y`.
    row_start: Vec<u32>,
    runs: Vec<(u32, u32)>,
}

impl Spans {
    /// Builds spans from per-row run lists (any order, overlaps allowed); runs are clamped to the
    /// frame, sorted and merged.
    pub fn from_rows(width: u32, height: u32, rows: Vec<Vec<(i64, i64)>>) -> Result<Self> {
        debug_assert_eq!(rows.len(), height as usize);
        let mut builder = SpansBuilder::new(width, height);
        for (y, mut row) in rows.into_iter().enumerate() {
            builder.push_row(y as u32, &mut row);
        }
        builder.finish()
    }

    /// No covered samples.
    pub fn empty(width: u32, height: u32) -> Self {
        SpansBuilder::check(width, height);
        Spans {
            width,
            height,
            row_start: vec![0; height as usize + 1],
            runs: Vec::new(),
        }
    }

    /// Width in samples of the plane the spans describe.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in rows of the plane the spans describe.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The runs `[x0, x1)` of row `y`.
    pub fn row(&self, y: u32) -> &[(u32, u32)] {
        let y = y as usize;
        &self.runs[self.row_start[y] as usize..self.row_start[y + 1] as usize]
    }

    /// Number of covered samples.
    pub fn count(&self) -> u64 {
        self.runs.iter().map(|&(a, b)| u64::from(b - a)).sum()
    }

    /// Whether no sample is covered.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Rows that hold at least one run, as `[first, last + 1)`; `None` when empty.
    pub fn row_range(&self) -> Option<(u32, u32)> {
        if self.runs.is_empty() {
            return None;
        }
        // `row_start` never decreases: the first row with runs is the last one starting at 0,
        // and the row after the last one with runs is the first starting at the end.
        let first = self.row_start.partition_point(|&s| s == 0) - 1;
        let total = self.runs.len() as u32;
        let end = self.row_start.partition_point(|&s| s < total);
        Some((first as u32, end as u32))
    }

    /// The rows of `first..end` from the first to the last one that holds runs (an empty range
    /// at `first` when none does): what a kernel working on those rows needs to visit.
    pub fn trim_rows(&self, (first, end): (u32, u32)) -> (u32, u32) {
        match self.row_range() {
            Some((a, b)) if a.max(first) < b.min(end) => (a.max(first), b.min(end)),
            _ => (first, first),
        }
    }

    /// The columns `[first start, last end)` that the runs of rows `rows` reach, `None` when those
    /// rows hold no runs.
    pub fn column_span(&self, rows: std::ops::Range<u32>) -> Option<(u32, u32)> {
        let lo = rows
            .clone()
            .filter_map(|y| self.row(y).first())
            .map(|r| r.0)
            .min()?;
        let hi = rows.filter_map(|y| self.row(y).last()).map(|r| r.1).max()?;
        Some((lo, hi))
    }

    /// The bounding box of the cover, `(x0, y0, x1, y1)` half-open; `None` when empty.
    pub fn bounds(&self) -> Option<(u32, u32, u32, u32)> {
        let (y0, y1) = self.row_range()?;
        let (x0, x1) = self.column_span(y0..y1)?;
        Some((x0, y0, x1, y1))
    }

    /// Whether sample `(x, y)` is covered.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        self.row(y).iter().any(|&(a, b)| a <= x && x < b)
    }

    /// The chroma cover implied by this luma cover: a chroma sample is covered iff any luma pixel it
    /// co-sites (`sx` x `sy` of them) is covered. Chroma sizes round up.
    pub fn subsample(&self, sx: u32, sy: u32) -> Result<Spans> {
        if sx == 1 && sy == 1 {
            return self.try_clone();
        }
        let (cw, ch) = (self.width.div_ceil(sx), self.height.div_ceil(sy));
        let mut builder = SpansBuilder::new(cw, ch);
        let mut pieces = Vec::new();
        for cy in 0..ch {
            let lo = cy * sy;
            let hi = (lo + sy).min(self.height);
            pieces.clear();
            pieces.extend(
                (lo..hi)
                    .flat_map(|y| self.row(y).iter())
                    .map(|&(a, b)| (i64::from(a / sx), i64::from(b.div_ceil(sx)))),
            );
            builder.push_row(cy, &mut pieces);
        }
        builder.finish()
    }

    /// A copy, allocated fallibly.
    pub fn try_clone(&self) -> Result<Spans> {
        let mut runs = Vec::new();
        reserve(&mut runs, self.runs.len())?;
        runs.extend_from_slice(&self.runs);
        Ok(Spans {
            width: self.width,
            height: self.height,
            row_start: self.row_start.clone(),
            runs,
        })
    }

    /// The cover with `pieces` (`(row, start, end)`, in row order) added; rows without pieces
    /// are copied as they are.
    pub fn with_pieces(&self, pieces: &[(u32, i64, i64)]) -> Result<Spans> {
        let mut row_start = Vec::new();
        reserve(&mut row_start, self.row_start.len())?;
        let mut runs = Vec::new();
        reserve(&mut runs, self.runs.len() + pieces.len())?;
        row_start.push(0);
        let mut merged: Vec<(i64, i64)> = Vec::new();
        let w = i64::from(self.width);
        let mut k = 0;
        let mut y = 0;
        while y < self.height {
            if k == pieces.len() || pieces[k].0 > y {
                // Copy the rows up to the next one with pieces in one go.
                let stop = pieces.get(k).map_or(self.height, |p| p.0);
                let (a, b) = (
                    self.row_start[y as usize] as usize,
                    self.row_start[stop as usize] as usize,
                );
                let shift = runs.len() as i64 - a as i64;
                runs.extend_from_slice(&self.runs[a..b]);
                row_start.extend(
                    self.row_start[y as usize + 1..=stop as usize]
                        .iter()
                        .map(|&s| (i64::from(s) + shift) as u32),
                );
                y = stop;
                continue;
            }
            merged.clear();
            merged.extend(
                self.row(y)
                    .iter()
                    .map(|&(a, b)| (i64::from(a), i64::from(b))),
            );
            while k < pieces.len() && pieces[k].0 == y {
                merged.push((pieces[k].1, pieces[k].2));
                k += 1;
            }
            merged.sort_unstable();
            let first = runs.len();
            for &(a, b) in &merged {
                let (a, b) = (a.clamp(0, w) as u32, b.clamp(0, w) as u32);
                if a >= b {
                    continue;
                }
                let len = runs.len();
                match runs.last_mut() {
                    Some(last) if len > first && a <= last.1 => last.1 = last.1.max(b),
                    _ => {
                        reserve(&mut runs, 1)?;
                        runs.push((a, b));
                    }
                }
            }
            row_start.push(runs.len() as u32);
            y += 1;
        }
        Ok(Spans {
            width: self.width,
            height: self.height,
            row_start,
            runs,
        })
    }

    /// The union of two covers of the same plane.
    pub fn union(&self, other: &Spans) -> Result<Spans> {
        assert_eq!((self.width, self.height), (other.width, other.height));
        let mut builder = SpansBuilder::new(self.width, self.height);
        let mut pieces = Vec::new();
        for y in 0..self.height {
            pieces.clear();
            pieces.extend(
                self.row(y)
                    .iter()
                    .chain(other.row(y))
                    .map(|&(a, b)| (i64::from(a), i64::from(b))),
            );
            builder.push_row(y, &mut pieces);
        }
        builder.finish()
    }
}

/// `Vec::try_reserve`, as the core's error.
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) -> Result<()> {
    v.try_reserve(additional).map_err(|_| {
        Error::OutOfMemory(format!(
            "cannot allocate {additional} more items of {} bytes",
            std::mem::size_of::<T>()
        ))
    })
}

/// Builds [`Spans`] a row at a time, in increasing row order, without a list per row.
#[derive(Debug)]
pub struct SpansBuilder {
    width: u32,
    height: u32,
    row_start: Vec<u32>,
    runs: Vec<(u32, u32)>,
    /// Set when the runs could not grow; [`SpansBuilder::finish`] then reports it.
    failed: bool,
}

impl SpansBuilder {
    /// An empty cover of a `width` x `height` plane (at most [`MAX_DIMENSION`] on a side: the
    /// row index is allocated here).
    pub fn new(width: u32, height: u32) -> Self {
        Self::check(width, height);
        let mut row_start = Vec::with_capacity(height as usize + 1);
        row_start.push(0);
        SpansBuilder {
            width,
            height,
            row_start,
            runs: Vec::new(),
            failed: false,
        }
    }

    /// Enforces the plane size limit (callers check sizes first: this guards the allocation).
    fn check(width: u32, height: u32) {
        assert!(
            width <= MAX_DIMENSION && height <= MAX_DIMENSION,
            "a {width}x{height} plane exceeds the supported maximum of {MAX_DIMENSION} per side"
        );
    }

    /// Adds the runs of row `y` (any order, overlaps allowed; clamped to the plane). Rows must
    /// come in increasing order; rows skipped are empty. `pieces` is sorted in place.
    pub fn push_row(&mut self, y: u32, pieces: &mut [(i64, i64)]) {
        self.skip_to(y);
        pieces.sort_unstable();
        self.push_sorted(pieces);
    }

    /// Pushes the runs of the row after the last ended one (see [`SpansBuilder::skip_to`]), its
    /// pieces already sorted by start.
    pub(crate) fn push_sorted(&mut self, pieces: &[(i64, i64)]) {
        if self.runs.capacity() - self.runs.len() < pieces.len()
            && self.runs.try_reserve(pieces.len()).is_err()
        {
            self.failed = true;
        }
        if self.failed {
            self.row_start.push(self.runs.len() as u32);
            return;
        }
        let first = self.runs.len();
        let w = i64::from(self.width);
        for &(a, b) in pieces.iter() {
            let (a, b) = (a.clamp(0, w) as u32, b.clamp(0, w) as u32);
            if a >= b {
                continue;
            }
            let len = self.runs.len();
            match self.runs.last_mut() {
                Some(last) if len > first && a <= last.1 => last.1 = last.1.max(b),
                _ => self.runs.push((a, b)),
            }
        }
        self.row_start.push(self.runs.len() as u32);
    }

    /// Ends the rows before `y`, which must not have been pushed yet.
    pub(crate) fn skip_to(&mut self, y: u32) {
        assert!(
            y < self.height && self.row_start.len() <= y as usize + 1,
            "rows out of order"
        );
        let len = self.runs.len() as u32;
        self.row_start.resize(y as usize + 1, len);
    }

    /// Whether the runs could not grow (the rest of the work is wasted).
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Makes room for `runs` more runs.
    pub(crate) fn reserve(&mut self, runs: usize) {
        self.failed |= self.runs.try_reserve(runs).is_err();
    }

    /// The finished cover, or [`Error::OutOfMemory`] when the runs could not be stored.
    pub fn finish(mut self) -> Result<Spans> {
        if self.failed {
            return Err(Error::OutOfMemory(format!(
                "cannot store the cover of a {}x{} plane",
                self.width, self.height
            )));
        }
        let len = self.runs.len() as u32;
        self.row_start.resize(self.height as usize + 1, len);
        Ok(Spans {
            width: self.width,
            height: self.height,
            row_start: self.row_start,
            runs: self.runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_range_finds_the_first_and_last_rows_with_runs() {
        let rows = |r: Vec<Vec<(i64, i64)>>| Spans::from_rows(4, r.len() as u32, r).unwrap();
        assert_eq!(rows(vec![vec![], vec![], vec![]]).row_range(), None);
        assert_eq!(rows(vec![vec![(0, 1)]]).row_range(), Some((0, 1)));
        let gaps = rows(vec![vec![], vec![(1, 2)], vec![], vec![(0, 4)], vec![]]);
        assert_eq!(gaps.row_range(), Some((1, 4)));
        assert_eq!(gaps.trim_rows((0, 5)), (1, 4));
        assert_eq!(gaps.column_span(0..5), Some((0, 4)));
        assert_eq!(gaps.column_span(1..3), Some((1, 2)));
        assert_eq!(gaps.column_span(4..5), None);
        assert_eq!(gaps.bounds(), Some((0, 1, 4, 4)));
        assert_eq!(rows(vec![vec![]; 2]).bounds(), None);
        assert_eq!(gaps.trim_rows((2, 3)), (2, 3));
        assert_eq!(gaps.trim_rows((4, 5)), (4, 4));
        assert_eq!(rows(vec![vec![]; 3]).trim_rows((1, 3)), (1, 1));
        let ends = rows(vec![vec![(0, 1)], vec![], vec![(3, 4)]]);
        assert_eq!(ends.row_range(), Some((0, 3)));
    }

    #[test]
    fn pieces_are_added_row_by_row() {
        let rows = |r: Vec<Vec<(i64, i64)>>| Spans::from_rows(9, r.len() as u32, r).unwrap();
        let base = rows(vec![
            vec![(1, 3)],
            vec![],
            vec![(0, 2), (5, 7)],
            vec![(4, 5)],
            vec![],
        ]);
        let got = base
            .with_pieces(&[(1, 2, 4), (2, 2, 3), (2, 7, 12), (4, -3, 1)])
            .unwrap();
        let want = rows(vec![
            vec![(1, 3)],
            vec![(2, 4)],
            vec![(0, 3), (5, 9)],
            vec![(4, 5)],
            vec![(0, 1)],
        ]);
        assert_eq!(got, want);
        assert_eq!(base.with_pieces(&[]).unwrap(), base);
        assert_eq!(base.with_pieces(&[(0, 0, 0)]).unwrap(), base);
    }
}
