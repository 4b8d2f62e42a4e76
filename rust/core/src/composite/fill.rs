//! Fill: covered samples interpolated from the visible samples around the cover (pull-push).
//!
//! Only samples that stay visible are read (neither this cover nor what later masks will hide),
//! so the output inside the cover does not depend on anything hidden: the style is anonymising
//! like a solid colour, yet reads as a continuation of the surroundings. Pull-push (a mip-map of
//! means built up from the visible samples, then interpolated back down into the gaps) is
//! O(samples) over the cover's bounding box grown by one sample.
//!
//! The pyramid is kept in 16-bit fixed point (a value is a sample value times 2^F, F = 4 for
//! 8-bit samples and 2 for 10-bit ones), so every pass works on sixteen values per AVX2
//! instruction and the interpolations are exact integer sums, rounded once each.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::error::Result;
use crate::frame::{ChannelMut, Sample};
use crate::parallel::{for_bands, may_split, pool, MIN_SAMPLES_PER_BAND};
use crate::simd::{self, Unknowns, UNKNOWN};
use crate::spans::{reserve, Spans};

/// A compiled fill for one plane geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct FillPlan {
    /// The covered samples.
    pub spans: Spans,
    /// The window read and solved, `(x0, y0, x1, y1)` half-open: the cover's bounding box grown by
    /// one sample, clamped to the plane.
    region: (u32, u32, u32, u32),
    /// Covered samples with an uncovered 4-neighbour inside the plane: where an outline goes.
    border: Spans,
    /// How level 1 of the pyramid is pulled from the readable samples, for an ordinary apply
    /// (`[0]`: neither the cover nor what later masks hide is read) and a lifted one (`[1]`,
    /// where later liftable masks stay visible).
    level1: [Level1; 2],
}

/// How a run of level-1 columns is pulled from the plane, by which of the 2x2 samples under
/// each are readable (columns are level-1 columns; the region's last odd column and row have
/// only one sample across or down).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Piece {
    /// Columns `.0..1` whose four samples are all readable.
    Both(u32, u32),
    /// Columns `.0..1` whose two samples in the plane row `.2` (0: upper, 1: lower) alone are
    /// readable.
    One(u32, u32, u8),
    /// Columns `.0..1` with no readable sample.
    Unknown(u32, u32),
    /// Column `.0`, whose readable samples are the set bits of `.1`: 1 and 2 upper left and
    /// right, 4 and 8 lower left and right.
    Cell(u32, u8),
}

/// Level 1 of a fill's pyramid, worked out from the geometry alone when the fill is compiled:
/// the pieces of each row (those of row `y` are `pieces[starts[y]..starts[y + 1]]`) and the
/// columns that hold its unknowns.
#[derive(Clone, Debug, Default, PartialEq)]
struct Level1 {
    pieces: Vec<Piece>,
    starts: Vec<usize>,
    unknown: Vec<Unknowns>,
    /// Whether any sample of the region is readable.
    visible: bool,
}

impl Level1 {
    /// Walks each row pair of the region `(x0, y0, x1, y1)` in pieces where the readability of
    /// both rows stays the same: whole cells inside a piece are readable in both rows, in one,
    /// or in none; a cell cut by a piece boundary, or the last one of an odd width, becomes a
    /// [`Piece::Cell`].
    ///
    /// The lists grow with the cover's complexity, so they are allocated fallibly:
    /// [`Error::OutOfMemory`](crate::error::Error::OutOfMemory) when they cannot be.
    fn new(unreadable: &Spans, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Result<Self> {
        let mut plan = Level1::default();
        let width = (x1 - x0) as usize;
        let pairs = (y1 - y0).div_ceil(2) as usize;
        reserve(&mut plan.starts, pairs + 1)?;
        reserve(&mut plan.unknown, pairs)?;
        for ya in (y0..y1).step_by(2) {
            plan.starts.push(plan.pieces.len());
            // Reserved here, so the pushes below never allocate.
            reserve(&mut plan.pieces, most_pieces(unreadable, ya, y1, width))?;
            let mut a = Runs::new(unreadable.row(ya), x0, x1);
            let mut b = (ya + 1 < y1).then(|| Runs::new(unreadable.row(ya + 1), x0, x1));
            let mut found = Unknowns::NONE;
            let mut add = |piece: Piece, found: &mut Unknowns| {
                let (c0, c1) = match piece {
                    Piece::Unknown(c0, c1) => (c0, c1),
                    Piece::Cell(c, 0) => (c, c + 1),
                    _ => return plan.pieces.push(piece),
                };
                plan.pieces.push(Piece::Unknown(c0, c1));
                if found.is_empty() {
                    found.start = c0 as usize;
                }
                found.end = c1 as usize;
            };
            // The readable samples of the cell whose first column was the last one seen, when
            // that column is even.
            let mut pending = 0u8;
            let mut x = 0;
            while x < width {
                let (ra, next_a) = a.at(x);
                let (rb, next_b) = b.as_mut().map_or((false, width), |b| b.at(x));
                let end = next_a.min(next_b).min(width);
                let column = u8::from(ra) | u8::from(rb) << 2;
                let mut start = x;
                if start % 2 == 1 {
                    // The second column of a cell begun in the previous piece.
                    add(
                        Piece::Cell((start / 2) as u32, pending | column << 1),
                        &mut found,
                    );
                    start += 1;
                }
                let cells = ((start / 2) as u32, (end / 2) as u32);
                if cells.0 < cells.1 {
                    add(
                        match (ra, rb) {
                            (true, true) => Piece::Both(cells.0, cells.1),
                            (true, false) => Piece::One(cells.0, cells.1, 0),
                            (false, true) => Piece::One(cells.0, cells.1, 1),
                            (false, false) => Piece::Unknown(cells.0, cells.1),
                        },
                        &mut found,
                    );
                }
                if end % 2 == 1 {
                    // The first column of a cell that the next piece (or the region's edge)
                    // ends.
                    pending = column;
                }
                x = end;
            }
            if width % 2 == 1 {
                add(Piece::Cell((width / 2) as u32, pending), &mut found);
            }
            plan.unknown.push(found);
        }
        plan.starts.push(plan.pieces.len());
        plan.visible = plan.pieces.iter().any(|p| !matches!(p, Piece::Unknown(..)));
        Ok(plan)
    }

    /// The pieces of row `y`.
    fn row(&self, y: usize) -> &[Piece] {
        &self.pieces[self.starts[y]..self.starts[y + 1]]
    }

    /// Whether no sample of the region is readable.
    fn all_unknown(&self) -> bool {
        !self.visible
    }
}

/// At most how many pieces [`Level1::new`] makes of plane rows `ya` and `ya + 1` (when below
/// `y1`) over a region `width` samples wide. Pieces cover distinct level-1 columns; and each
/// stretch of constant readability adds at most two (a cell it finishes and its whole cells),
/// with one more for an odd last column, while each unreadable run of the two rows starts and
/// ends at most one stretch.
fn most_pieces(unreadable: &Spans, ya: u32, y1: u32, width: usize) -> usize {
    let runs: usize = (ya..(ya + 2).min(y1))
        .map(|y| unreadable.row(y).len())
        .sum();
    (4 * runs + 3).min(width.div_ceil(2))
}

impl FillPlan {
    /// Plans a fill of the samples covered by `spans`, reading none of `unreadable` (which must
    /// include `spans`) for an ordinary apply and a lifted one.
    pub fn new(spans: Spans, unreadable: [Spans; 2]) -> Result<Self> {
        let region = match spans.bounds() {
            None => (0, 0, 0, 0),
            Some((x0, y0, x1, y1)) => (
                x0.saturating_sub(1),
                y0.saturating_sub(1),
                (x1 + 1).min(spans.width()),
                (y1 + 1).min(spans.height()),
            ),
        };
        let border = border_of(&spans)?;
        let level1 = if region.0 < region.2 && region.1 < region.3 {
            let [ordinary, lifted] = &unreadable;
            [Level1::new(ordinary, region)?, Level1::new(lifted, region)?]
        } else {
            Default::default()
        };
        Ok(FillPlan {
            spans,
            region,
            border,
            level1,
        })
    }

    /// The covered samples that touch an uncovered one (left, right, up or down).
    pub fn border(&self) -> &Spans {
        &self.border
    }
}

fn border_of(spans: &Spans) -> Result<Spans> {
    let (w, h) = (spans.width(), spans.height());
    let rows = (0..h)
        .map(|y| {
            let mut out = Vec::new();
            for &(a, b) in spans.row(y) {
                for x in a..b {
                    let open = |xx: i64, yy: i64| {
                        xx >= 0
                            && yy >= 0
                            && xx < i64::from(w)
                            && yy < i64::from(h)
                            && !spans.contains(xx as u32, yy as u32)
                    };
                    let (xi, yi) = (i64::from(x), i64::from(y));
                    // Left and right neighbours of a run's interior are covered by construction.
                    let edge_of_run = x == a || x + 1 == b;
                    if (edge_of_run && (open(xi - 1, yi) || open(xi + 1, yi)))
                        || open(xi, yi - 1)
                        || open(xi, yi + 1)
                    {
                        out.push((i64::from(x), i64::from(x) + 1));
                    }
                }
            }
            out
        })
        .collect();
    Spans::from_rows(w, h, rows)
}

/// One level of the pyramid: `h` rows of `w` values at `offset` in the pyramid's values, each
/// padded by a copy of its first value before it and of its last after it (so a row takes
/// `w + 2` values and interpolations at the ends need no clamping), and the unknown columns of
/// each row at `rows` in its unknowns (level 0, the samples themselves, is never stored).
#[derive(Clone, Copy, Debug, Default)]
struct Level {
    w: usize,
    h: usize,
    offset: usize,
    rows: usize,
}

impl Level {
    /// Values from one row to the next.
    fn stride(&self) -> usize {
        self.w + 2
    }

    /// Values in the level.
    fn len(&self) -> usize {
        self.stride() * self.h
    }
}

/// Sets the padding of a pyramid row (`w + 2` values) from its ends.
fn pad(row: &mut [u16]) {
    let w = row.len() - 2;
    (row[0], row[w + 1]) = (row[1], row[w]);
}

/// The pyramid from level 1 up: each value the mean of the visible samples under it in fixed
/// point, or [`UNKNOWN`] when none is; and for each row, the columns that hold its unknowns.
#[derive(Default)]
struct Pyramid {
    values: Vec<u16>,
    unknown: Vec<Unknowns>,
}

thread_local! {
    /// The pyramid; grown on demand and reused, so steady state allocates nothing.
    static SCRATCH: RefCell<Pyramid> = const {
        RefCell::new(Pyramid { values: Vec::new(), unknown: Vec::new() })
    };
}

/// Fills the covered samples of the channel from the samples around them.
///
/// Pull-push with weights that are 0 or 1: a level-1 value is the mean of the readable samples
/// among its 2x2 children in the plane, each coarser value the mean of its known children, and a
/// value with no known child is unknown. Level 0 (the region's samples) is never materialised:
/// the pull to level 1 reads the readable samples straight from the plane. The pull stops at the
/// first level with nothing unknown, since nothing above it could change it (and an unknown 1x1
/// top means nothing is visible). The push then replaces each unknown value by the bilinear
/// interpolation of the level above, coarse to fine, visiting only the columns of each row that
/// hold unknowns; every covered sample has weight 0, so its value is the interpolated level 1,
/// computed where it is written.
///
/// Values are `value * 2^F` in 16 bits. Means round half up; an interpolation at a fine sample
/// (3/4 and 1/4 of the coarse neighbours each way) is `9a + 3b + 3c + d` exactly, then divided
/// by 16 (down a level) or by `16 * 2^F` (into the plane) rounding half up.
pub fn fill<T: Sample>(ch: ChannelMut<'_, T>, plan: &FillPlan, lifted: bool) {
    let (x0, y0, x1, y1) = plan.region;
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    // Levels 1.. one after another. At most 16 levels for planes up to 16384 samples a side; an
    // array keeps this allocation-free.
    let mut storage = [Level::default(); 24];
    let (mut count, mut values, mut rows) = (0, 0, 0);
    let (mut w, mut h) = (rw, rh);
    while w > 1 || h > 1 {
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        storage[count] = Level {
            w,
            h,
            offset: values,
            rows,
        };
        count += 1;
        values += storage[count - 1].len();
        rows += h;
    }
    let levels = &storage[..count];
    let max = ch.max_value();
    let Some(&first) = levels.first() else {
        // A one-sample region: the sample is covered and nothing around it is in the plane.
        return write_flat(ch, plan, max.div_ceil(2));
    };
    // The pyramid is taken out of the thread-local while in use (not borrowed): the passes run
    // on the pool, and a worker waiting there may start another call's fill on this very
    // thread, which then simply starts with an empty pyramid of its own.
    let mut pyramid = SCRATCH.with(RefCell::take);
    if pyramid.values.len() < values {
        pyramid.values.resize(values, 0);
    }
    if pyramid.unknown.len() < rows {
        pyramid.unknown.resize(rows, Unknowns::NONE);
    }
    let level1 = &plan.level1[usize::from(lifted)];
    if !level1.all_unknown() && pull_push(&ch, plan.region, level1, levels, &mut pyramid) {
        write_level1(ch, plan, &pyramid.values[..first.len()], &first);
    } else {
        // Nothing visible at all (the cover is the whole plane): flat mid-grey.
        write_flat(ch, plan, max.div_ceil(2));
    }
    SCRATCH.with(|cell| cell.replace(pyramid));
}

/// The fraction bits of the pyramid for samples up to `max`: 4 for 8 bits, 2 for 10 bits, so a
/// value is at most 4092 and sixteen times it still fits 16 bits.
fn frac_bits(max: u32) -> u32 {
    assert!(max <= 1023, "fill works on samples of at most 10 bits");
    if max <= 255 {
        4
    } else {
        2
    }
}

/// Whether a pass over a level with `samples` samples (for a pull, the finer level's) is worth
/// the pool. A pass costs about a cycle a sample, so only the passes over the largest levels of
/// large covers pay for waking the pool and joining it again (a quarter of a 4K frame: the
/// pulls to levels 1 and 2 and the push into level 1).
fn big(samples: usize) -> bool {
    samples as u64 >= 16 * MIN_SAMPLES_PER_BAND
}

/// Runs `f(y, row, unknowns)` over the padded rows of `level` in `values` (its own values) and
/// their unknown columns: on the pool when `parallel` (and the pool has threads to give), else
/// in order here.
fn for_rows<F>(values: &mut [u16], unknown: &mut [Unknowns], level: &Level, parallel: bool, f: F)
where
    F: Fn(usize, &mut [u16], &mut Unknowns) + Sync,
{
    let (values, unknown) = (&mut values[..level.len()], &mut unknown[..level.h]);
    if parallel && may_split() {
        pool().install(|| {
            values
                .par_chunks_mut(level.stride())
                .zip(unknown.par_iter_mut())
                .enumerate()
                .for_each(|(y, (row, u))| f(y, row, u));
        });
    } else {
        let rows = values.chunks_mut(level.stride()).zip(unknown.iter_mut());
        for (y, (row, u)) in rows.enumerate() {
            f(y, row, u);
        }
    }
}

/// The unreadable runs of one plane row, clipped to the region and read left to right.
struct Runs<'a> {
    runs: &'a [(u32, u32)],
    x0: u32,
    x1: u32,
}

impl<'a> Runs<'a> {
    fn new(runs: &'a [(u32, u32)], x0: u32, x1: u32) -> Self {
        Runs { runs, x0, x1 }
    }

    /// Whether region column `x` is readable, and the column where that next changes (the
    /// region's width at the latest); columns must be asked for from left to right.
    #[inline]
    fn at(&mut self, x: usize) -> (bool, usize) {
        let rel = |v: u32| (v.clamp(self.x0, self.x1) - self.x0) as usize;
        while let Some((&(_, end), rest)) = self.runs.split_first() {
            if rel(end) > x {
                break;
            }
            self.runs = rest;
        }
        match self.runs.first() {
            None => (true, (self.x1 - self.x0) as usize),
            Some(&(start, end)) if rel(start) <= x => (false, rel(end)),
            Some(&(start, _)) => (true, rel(start)),
        }
    }
}

fn any_unknown(rows: &[Unknowns]) -> bool {
    rows.iter().any(|u| !u.is_empty())
}

/// Pulls the pyramid up from the plane and pushes it back down to level 1; false when nothing
/// in the region is visible.
fn pull_push<T: Sample>(
    ch: &ChannelMut<'_, T>,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    plan: &Level1,
    levels: &[Level],
    pyramid: &mut Pyramid,
) -> bool {
    let Pyramid { values, unknown } = pyramid;
    let first = levels[0];
    let (step, shift, frac) = (ch.step(), ch.shift(), frac_bits(ch.max_value()));

    // Pull to level 1: each value is the mean of its (up to) 2x2 readable children in the
    // plane.
    let parallel = big(((x1 - x0) * (y1 - y0)) as usize);
    for_rows(values, unknown, &first, parallel, |cy, row, found| {
        let ya = y0 + 2 * cy as u32;
        let rows = [ch.row(ya), ch.row((ya + 1).min(y1 - 1))].map(|r| &r[x0 as usize * step..]);
        pull_level1_row(
            rows,
            plan.row(cy),
            (step, shift, frac),
            &mut row[1..=first.w],
        );
        *found = plan.unknown[cy];
        pad(row);
    });

    // Pull on while a level has unknowns: each coarser value is the mean of its known children.
    let mut depth = 1;
    while depth < levels.len()
        && any_unknown(&unknown[levels[depth - 1].rows..][..levels[depth - 1].h])
    {
        let (fine, coarse) = (levels[depth - 1], levels[depth]);
        let (lo, hi) = values.split_at_mut(coarse.offset);
        let fv = &lo[fine.offset..][..fine.len()];
        let fine_row = |y: usize| &fv[y * fine.stride() + 1..][..fine.w];
        for_rows(
            hi,
            &mut unknown[coarse.rows..],
            &coarse,
            big(fine.w * fine.h),
            |cy, row, found| {
                let r1 = (2 * cy + 1 < fine.h).then(|| fine_row(2 * cy + 1));
                *found = simd::pull_fixed(fine_row(2 * cy), r1, &mut row[1..=coarse.w]);
                pad(row);
            },
        );
        depth += 1;
    }
    let top = levels[depth - 1];
    if any_unknown(&unknown[top.rows..][..top.h]) {
        // Only the 1x1 top can still hold an unknown: nothing is visible.
        return false;
    }

    // Push: each unknown value takes the interpolation of the level above, down to level 1.
    for k in (0..depth - 1).rev() {
        let (fine, coarse) = (levels[k], levels[k + 1]);
        let (lo, hi) = values.split_at_mut(coarse.offset);
        let cv = &hi[..coarse.len()];
        for_rows(
            &mut lo[fine.offset..],
            &mut unknown[fine.rows..],
            &fine,
            big(fine.w * fine.h),
            |y, padded, &mut Unknowns { start, end }| {
                if start >= end {
                    return;
                }
                let (c0, c1, heavy_first) = coarse_rows(cv, &coarse, y);
                // From an even column: one before an odd start is known, so left alone.
                let x = start & !1;
                let row = &mut padded[1 + x..=end];
                simd::push_fixed(&c0[x / 2..], &c1[x / 2..], heavy_first, row);
                pad(padded);
            },
        );
    }
    true
}

/// One row of level 1 from its pieces ([`Level1`]): each value the mean of the readable samples
/// among its 2x2 children in the plane rows `rows` (from the region's first column; the second
/// is only read where a piece says so) times `2^frac`, rounded half up, or [`UNKNOWN`].
fn pull_level1_row<T: Sample>(
    rows: [&[T]; 2],
    pieces: &[Piece],
    (step, shift, frac): (usize, u32, u32),
    out: &mut [u16],
) {
    let value = |row: &[T], x: usize| row[x * step].word() >> shift;
    // The mean of `count` samples summing to `sum`, times 2^frac, rounded half up.
    let mean = |sum: u32, count: u32| (((sum << frac) + count / 2) / count) as u16;
    let bytes = rows.map(|r| T::as_bytes(r).filter(|_| step == 1 && frac == 4));
    for &piece in pieces {
        match piece {
            Piece::Both(c0, c1) => {
                let (c0, c1) = (c0 as usize, c1 as usize);
                let out = &mut out[c0..c1];
                match bytes {
                    [Some(a), Some(b)] => {
                        simd::quad_fixed_u8(&a[2 * c0..2 * c1], Some(&b[2 * c0..2 * c1]), out)
                    }
                    _ => {
                        for (k, o) in out.iter_mut().enumerate() {
                            let x = 2 * (c0 + k);
                            let [a, b] = rows;
                            let sum = value(a, x) + value(a, x + 1) + value(b, x) + value(b, x + 1);
                            *o = mean(sum, 4);
                        }
                    }
                }
            }
            Piece::One(c0, c1, r) => {
                let (c0, c1, r) = (c0 as usize, c1 as usize, usize::from(r));
                let out = &mut out[c0..c1];
                match bytes[r] {
                    Some(b) => simd::quad_fixed_u8(&b[2 * c0..2 * c1], None, out),
                    None => {
                        for (k, o) in out.iter_mut().enumerate() {
                            let x = 2 * (c0 + k);
                            *o = mean(value(rows[r], x) + value(rows[r], x + 1), 2);
                        }
                    }
                }
            }
            Piece::Unknown(c0, c1) => out[c0 as usize..c1 as usize].fill(UNKNOWN),
            Piece::Cell(c, mask) => {
                let x = 2 * c as usize;
                let sum: u32 = (0..4)
                    .filter(|bit| mask & 1 << bit != 0)
                    .map(|bit| value(rows[bit / 2], x + bit % 2))
                    .sum();
                out[c as usize] = mean(sum, mask.count_ones());
            }
        }
    }
}

/// The two padded rows of the coarse level `cv` that fine row `y` lies between, and whether
/// the first is the nearer (3/4 of the weight; [`simd::upsampled_fixed`]). Fine row y sits at
/// coarse position y/2 - 1/4, between coarse rows (y-1)>>1 and the next (clamped to the level).
#[inline(always)]
fn coarse_rows<'a>(cv: &'a [u16], coarse: &Level, y: usize) -> (&'a [u16], &'a [u16], bool) {
    let last = (coarse.h - 1) as i64;
    let cy = (y as i64 - 1) >> 1;
    let row = |k: i64| &cv[k.clamp(0, last) as usize * coarse.stride()..][..coarse.stride()];
    (row(cy), row(cy + 1), y % 2 == 1)
}

/// Writes `value` into every covered sample.
fn write_flat<T: Sample>(ch: ChannelMut<'_, T>, plan: &FillPlan, value: u32) {
    let word = T::from_word(value.min(ch.max_value()) << ch.shift());
    write(ch, plan, |_, _, out| out.fill(word));
}

/// Writes into every covered sample the bilinear interpolation of `level1` (`first.w` x
/// `first.h`, padded rows), rounded half up.
fn write_level1<T: Sample>(ch: ChannelMut<'_, T>, plan: &FillPlan, level1: &[u16], first: &Level) {
    let (x0, y0, _, _) = plan.region;
    let (max, shift) = (ch.max_value(), ch.shift());
    // Sixteen times the interpolation of values times 2^frac.
    let down = frac_bits(max) + 4;
    write(ch, plan, |y, a, out| {
        let (ry, ra) = ((y - y0) as usize, (a - x0) as usize);
        let (c0, c1, heavy_first) = coarse_rows(level1, first, ry);
        let sample = |x: usize| {
            let v = u32::from(simd::upsampled_fixed(c0, c1, heavy_first, x)) + (1 << (down - 1));
            (v >> down).min(max)
        };
        match T::as_bytes_mut(out).filter(|_| down == 8) {
            Some(bytes) => {
                let rest = if ra % 2 == 1 {
                    bytes[0] = sample(ra) as u8;
                    &mut bytes[1..]
                } else {
                    bytes
                };
                let m = ra.div_ceil(2);
                simd::write_fixed_u8(&c0[m..], &c1[m..], heavy_first, rest);
            }
            None => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = T::from_word(sample(ra + k) << shift);
                }
            }
        }
    });
}

/// Calls `fill(y, a, samples)` for every covered run `a..b` of the plan, `samples` being the
/// channel's samples `a..b` of row `y` (gathered and scattered back when interleaved); bands of
/// rows go to the pool when the cover is large.
fn write<T: Sample>(
    ch: ChannelMut<'_, T>,
    plan: &FillPlan,
    fill: impl Fn(u32, u32, &mut [T]) + Sync,
) {
    let step = ch.step();
    let width = plan.spans.width() as usize;
    for_bands(ch, &plan.spans, 1, &|mut band: ChannelMut<'_, T>| {
        let (first, end) = plan.spans.trim_rows(band.rows());
        T::with_scratch_row(width, |tmp| {
            for y in first..end {
                let row = band.row_mut(y);
                for &(a, b) in plan.spans.row(y) {
                    let (ua, ub) = (a as usize, b as usize);
                    if step == 1 {
                        fill(y, a, &mut row[ua..ub]);
                    } else {
                        let tmp = &mut tmp[..ub - ua];
                        fill(y, a, tmp);
                        for (k, &v) in tmp.iter().enumerate() {
                            row[(ua + k) * step] = v;
                        }
                    }
                }
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::PixelFormat;
    use crate::frame::{FrameMut, PlaneMut};
    use crate::simd::mean_fixed;

    /// A small deterministic generator, so the tests need no crate.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// Runs `[a, b)` of each row of a channel.
    type Rows = Vec<Vec<(i64, i64)>>;

    /// Random runs on each row of a `w` x `h` channel: a blob (a run per row of a band of rows)
    /// and a few stray runs.
    fn random_runs(noise: &mut Noise, w: u32, h: u32) -> Rows {
        let mut rows = vec![Vec::new(); h as usize];
        let (top, bottom) = (noise.below(u64::from(h)), noise.below(u64::from(h)) + 1);
        for (y, row) in rows.iter_mut().enumerate() {
            let y = y as u64;
            if (top..top.max(bottom)).contains(&y) || noise.below(9) == 0 {
                for _ in 0..1 + noise.below(3) {
                    let a = noise.below(u64::from(w)) as i64;
                    let b = (a + 1 + noise.below(u64::from(w)) as i64).min(i64::from(w));
                    row.push((a, b));
                }
            }
        }
        rows
    }

    /// Fill worked out the plain way, one value at a time: every level up to the 1x1 top, every
    /// unknown value pushed, each covered sample interpolated from level 1, in the same fixed
    /// point and with the same rounding. Returns the channel's values afterwards.
    fn reference(
        values: &[u32],
        (w, h): (u32, u32),
        cover: &Spans,
        hidden: &Spans,
        max: u32,
    ) -> Vec<u32> {
        let mut out = values.to_vec();
        let Some((bx0, by0, bx1, by1)) = cover.bounds() else {
            return out;
        };
        let (x0, y0) = (
            bx0.saturating_sub(1) as usize,
            by0.saturating_sub(1) as usize,
        );
        let (x1, y1) = ((bx1 + 1).min(w) as usize, (by1 + 1).min(h) as usize);
        let (rw, rh) = (x1 - x0, y1 - y0);
        let frac = frac_bits(max);
        let readable = |x: usize, y: usize| !hidden.contains(x as u32, y as u32);
        // levels[k] is level k + 1: (width, height, values).
        let mut levels: Vec<(usize, usize, Vec<u16>)> = Vec::new();
        let (mut lw, mut lh) = (rw.div_ceil(2), rh.div_ceil(2));
        if rw > 1 || rh > 1 {
            let mut level1 = vec![0u16; lw * lh];
            for cy in 0..lh {
                for cx in 0..lw {
                    let (mut sum, mut count) = (0u32, 0u32);
                    for y in y0 + 2 * cy..(y0 + 2 * cy + 2).min(y1) {
                        for x in x0 + 2 * cx..(x0 + 2 * cx + 2).min(x1) {
                            if readable(x, y) {
                                sum += values[y * w as usize + x];
                                count += 1;
                            }
                        }
                    }
                    level1[cy * lw + cx] = ((sum << frac) + count / 2)
                        .checked_div(count)
                        .map_or(UNKNOWN, |v| v as u16);
                }
            }
            levels.push((lw, lh, level1));
            while lw > 1 || lh > 1 {
                let (fw, fh, fine) = levels.last().unwrap().clone();
                (lw, lh) = (fw.div_ceil(2), fh.div_ceil(2));
                let mut coarse = vec![0u16; lw * lh];
                for cy in 0..lh {
                    for cx in 0..lw {
                        let (mut sum, mut count) = (0u16, 0u16);
                        for y in 2 * cy..(2 * cy + 2).min(fh) {
                            for x in 2 * cx..(2 * cx + 2).min(fw) {
                                let v = fine[y * fw + x];
                                if v != UNKNOWN {
                                    sum = sum.wrapping_add(v);
                                    count += 1;
                                }
                            }
                        }
                        coarse[cy * lw + cx] = mean_fixed(sum, count);
                    }
                }
                levels.push((lw, lh, coarse));
            }
        }
        let grey = max.div_ceil(2);
        if levels.last().is_none_or(|(_, _, top)| top[0] == UNKNOWN) {
            for y in 0..h {
                for &(a, b) in cover.row(y) {
                    for x in a..b {
                        out[(y * w + x) as usize] = grey;
                    }
                }
            }
            return out;
        }
        // Sixteen times the interpolation at fine (x, y) of a coarse level: 3/4 on the nearer
        // coarse neighbour each way (coarse x - 1 >> 1 and the next, clamped).
        let interpolate = |(cw, ch, c): (usize, usize, &[u16]), x: usize, y: usize| {
            let near = |v: usize, n: usize| {
                let first = (v as i64 - 1) >> 1;
                let pick = |k: i64| k.clamp(0, n as i64 - 1) as usize;
                let (w0, w1) = if v % 2 == 0 { (1, 3) } else { (3, 1) };
                [(pick(first), w0), (pick(first + 1), w1)]
            };
            let mut sum = 0u32;
            for (cy, wy) in near(y, ch) {
                for (cx, wx) in near(x, cw) {
                    sum += wy * wx * u32::from(c[cy * cw + cx]);
                }
            }
            sum
        };
        for k in (0..levels.len() - 1).rev() {
            let (cw, ch, coarse) = levels[k + 1].clone();
            let (fw, fh, fine) = &mut levels[k];
            for y in 0..*fh {
                for x in 0..*fw {
                    if fine[y * *fw + x] == UNKNOWN {
                        fine[y * *fw + x] =
                            ((interpolate((cw, ch, &coarse), x, y) + 8) >> 4) as u16;
                    }
                }
            }
        }
        let (l1w, l1h, level1) = &levels[0];
        let down = frac + 4;
        for y in 0..h {
            for &(a, b) in cover.row(y) {
                for x in a..b {
                    let v = interpolate((*l1w, *l1h, level1), x as usize - x0, y as usize - y0);
                    out[(y * w + x) as usize] = ((v + (1 << (down - 1))) >> down).min(max);
                }
            }
        }
        out
    }

    /// Fills channel `channel` of a `w` x `h` frame of `format` holding noise, for covers and
    /// hidden samples made by `noise`, and checks it against [`reference`].
    fn check<T: Sample + Default>(
        format: PixelFormat,
        channel: usize,
        (w, h): (u32, u32),
        noise: &mut Noise,
    ) {
        let layout = format.channels()[channel];
        let (cw, chh) = format.plane_samples(layout.plane, w, h);
        let cw = if layout.step == 2 { cw / 2 } else { cw };
        let cover = random_runs(noise, cw, chh);
        let later = random_runs(noise, cw, chh);
        check_runs::<T>(format, channel, (w, h), (cover, later), noise);
    }

    /// As [`check`] for a cover and later masks given as runs of each row of the channel.
    fn check_runs<T: Sample + Default>(
        format: PixelFormat,
        channel: usize,
        (w, h): (u32, u32),
        runs: (Rows, Rows),
        noise: &mut Noise,
    ) {
        let mut planes: Vec<Vec<T>> = (0..format.plane_count())
            .map(|i| {
                let (_, rows) = format.plane_samples(i, w, h);
                let len = format.plane_row_len(i, w, h) * rows as usize;
                (0..len)
                    .map(|_| {
                        T::from_word(noise.below(if T::BYTES == 1 { 256 } else { 1024 }) as u32)
                    })
                    .collect()
            })
            .collect();
        let layout = format.channels()[channel];
        let (cw, chh) = format.plane_samples(layout.plane, w, h);
        let cw = if layout.step == 2 { cw / 2 } else { cw };
        let cover = Spans::from_rows(cw, chh, runs.0).unwrap();
        let later = Spans::from_rows(cw, chh, runs.1).unwrap();
        let hidden = [cover.union(&later).unwrap(), cover.clone()];
        let plan = FillPlan::new(cover.clone(), hidden.clone()).unwrap();
        for lifted in [false, true] {
            let mut data = planes.clone();
            let mut views: [Option<PlaneMut<'_, T>>; 3] = [None, None, None];
            for (i, p) in data.iter_mut().enumerate() {
                let (_, rows) = format.plane_samples(i, w, h);
                let row_len = format.plane_row_len(i, w, h);
                views[i] = Some(PlaneMut::new(p, row_len, rows as usize, row_len).unwrap());
            }
            let mut frame = FrameMut::new(format, w, h, views).unwrap();
            let mut ch = frame.channel(layout);
            let (max, shift, step) = (ch.max_value(), ch.shift(), ch.step());
            let read = |ch: &ChannelMut<'_, T>| -> Vec<u32> {
                (0..chh)
                    .flat_map(|y| {
                        let row = ch.row(y);
                        (0..cw as usize).map(move |x| row[x * step].word() >> shift)
                    })
                    .collect()
            };
            let before = read(&ch);
            let want = reference(
                &before,
                (cw, chh),
                &cover,
                &hidden[usize::from(lifted)],
                max,
            );
            fill(ch.reborrow(), &plan, lifted);
            assert_eq!(
                read(&ch),
                want,
                "{format:?} channel {channel} {w}x{h} lifted {lifted}"
            );
        }
        planes.clear();
    }

    #[test]
    fn level1_pieces_stay_within_what_is_reserved() {
        let mut noise = Noise(0x5eed_f111);
        for round in 0..300 {
            let (w, h) = (1 + noise.below(40) as u32, 1 + noise.below(12) as u32);
            let mut rows = random_runs(&mut noise, w, h);
            if round % 3 == 0 {
                // Every other sample unreadable on some rows: as many runs as a row can hold.
                for row in rows.iter_mut() {
                    let (pick, start) = (noise.below(2), noise.below(2) as i64);
                    if pick == 0 {
                        continue;
                    }
                    *row = (start..i64::from(w))
                        .step_by(2)
                        .map(|x| (x, x + 1))
                        .collect();
                }
            }
            let unreadable = Spans::from_rows(w, h, rows).unwrap();
            let region = (
                noise.below(u64::from(w)) as u32,
                noise.below(u64::from(h)) as u32,
                w,
                h,
            );
            let level1 = Level1::new(&unreadable, region).unwrap();
            let width = (region.2 - region.0) as usize;
            for (cy, ya) in (region.1..region.3).step_by(2).enumerate() {
                let bound = most_pieces(&unreadable, ya, region.3, width);
                assert!(level1.row(cy).len() <= bound, "{w}x{h} {region:?} row {ya}");
            }
        }
    }

    #[test]
    fn fill_matches_the_plain_pull_push_at_every_level() {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let before = crate::simd::level();
        for level in crate::simd::Level::supported() {
            crate::simd::set_level(level).unwrap();
            for _ in 0..40 {
                let (w, h) = (2 + noise.below(90) as u32, 2 + noise.below(60) as u32);
                let (w, h) = (w + w % 2, h + h % 2);
                check::<u8>(PixelFormat::Gray, 0, (w, h), &mut noise);
                check::<u8>(PixelFormat::Nv12, 1, (w, h), &mut noise);
                check::<u16>(PixelFormat::Yuv420p10le, 0, (w, h), &mut noise);
            }
            // Tiny planes: one-sample regions, a cover of the whole plane.
            for (w, h) in [(1, 1), (1, 2), (2, 1), (3, 1), (2, 2)] {
                check::<u8>(PixelFormat::Gray, 0, (w, h), &mut noise);
            }
            // Every level-1 row holds unknowns at both ends, yet a column between them is
            // visible: not a region with nothing visible.
            let bowtie = vec![vec![(0, 2), (3, 5)], vec![(0, 5)], vec![(0, 2), (3, 5)]];
            let runs = (bowtie, vec![Vec::new(); 3]);
            check_runs::<u8>(PixelFormat::Gray, 0, (5, 3), runs, &mut noise);
        }
        crate::simd::set_level(before).unwrap();
    }
}
