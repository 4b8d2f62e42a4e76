//! Conservative coverage: which pixels a polygon's interior touches with positive area.
//!
//! The sweep works one pixel row (a horizontal band one pixel high) at a time. Inside a band it
//! cuts at every vertex height and every height where two edges cross, so that between two cuts
//! the edges are straight, never cross, and keep their left-to-right order. Between neighbouring
//! edges the winding number is then constant; where it is nonzero the region is an open trapezoid
//! whose horizontal extent is the span between the leftmost and rightmost of its four corners, and
//! a pixel of the band is covered iff its open column meets that span. All of this is computed in
//! exact integer arithmetic on the 1/256 px geometry of [`crate::geometry::FixedPolygon`].
//!
//! Bounds: coordinates lie within `±2^23` units, edge extents within `2^24`, so a crossing height
//! is a fraction `n / d` with `|n| < 2^74` and `0 < d < 2^49`, and the widest product formed below
//! (the sign of the difference of two edges at such a height) stays under `2^124`.

use std::cmp::Ordering;

use crate::geometry::{FixedPolygon, SUBPIXEL};

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
    pub fn from_rows(width: u32, height: u32, rows: Vec<Vec<(i64, i64)>>) -> Self {
        debug_assert_eq!(rows.len(), height as usize);
        let mut builder = SpansBuilder::new(width, height);
        for (y, mut row) in rows.into_iter().enumerate() {
            builder.push_row(y as u32, &mut row);
        }
        builder.finish()
    }

    /// No covered samples.
    pub fn empty(width: u32, height: u32) -> Self {
        SpansBuilder::new(width, height).finish()
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

    /// Whether sample `(x, y)` is covered.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        self.row(y).iter().any(|&(a, b)| a <= x && x < b)
    }

    /// The chroma cover implied by this luma cover: a chroma sample is covered iff any luma pixel it
    /// co-sites (`sx` x `sy` of them) is covered. Chroma sizes round up.
    pub fn subsample(&self, sx: u32, sy: u32) -> Spans {
        if sx == 1 && sy == 1 {
            return self.clone();
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

    /// The union of two covers of the same plane.
    pub fn union(&self, other: &Spans) -> Spans {
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

/// Builds [`Spans`] a row at a time, in increasing row order, without a list per row.
#[derive(Debug)]
pub struct SpansBuilder {
    width: u32,
    height: u32,
    row_start: Vec<u32>,
    runs: Vec<(u32, u32)>,
}

impl SpansBuilder {
    /// An empty cover of a `width` x `height` plane.
    pub fn new(width: u32, height: u32) -> Self {
        let mut row_start = Vec::with_capacity(height as usize + 1);
        row_start.push(0);
        SpansBuilder {
            width,
            height,
            row_start,
            runs: Vec::new(),
        }
    }

    /// Adds the runs of row `y` (any order, overlaps allowed; clamped to the plane). Rows must
    /// come in increasing order; rows skipped are empty. `pieces` is sorted in place.
    pub fn push_row(&mut self, y: u32, pieces: &mut [(i64, i64)]) {
        assert!(
            y < self.height && self.row_start.len() <= y as usize + 1,
            "rows out of order"
        );
        while self.row_start.len() < y as usize + 1 {
            self.row_start.push(self.runs.len() as u32);
        }
        pieces.sort_unstable();
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

    /// The finished cover.
    pub fn finish(mut self) -> Spans {
        while self.row_start.len() < self.height as usize + 1 {
            self.row_start.push(self.runs.len() as u32);
        }
        Spans {
            width: self.width,
            height: self.height,
            row_start: self.row_start,
            runs: self.runs,
        }
    }
}

/// A polygon edge oriented top to bottom (`y0 < y1`), with the winding it contributes.
#[derive(Clone, Copy, Debug)]
struct Edge {
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
    dir: i32,
}

impl Edge {
    fn dx(&self) -> i128 {
        i128::from(self.x1 - self.x0)
    }
    fn dy(&self) -> i128 {
        i128::from(self.y1 - self.y0)
    }
}

/// A height `n / d` with `d > 0`, in 1/256 px units.
#[derive(Clone, Copy, Debug)]
struct Height {
    n: i128,
    d: i128,
}

impl Height {
    fn int(v: i64) -> Self {
        Height {
            n: i128::from(v),
            d: 1,
        }
    }
    fn cmp(&self, o: &Height) -> Ordering {
        (self.n * o.d).cmp(&(o.n * self.d))
    }
    fn cmp_int(&self, v: i64) -> Ordering {
        self.n.cmp(&(i128::from(v) * self.d))
    }
}

/// Sign of `a.x(h) - b.x(h)`, exactly.
fn cmp_at(a: &Edge, b: &Edge, h: Height) -> Ordering {
    // x_e(h) = x0 + (h - y0) * dx / dy; multiply the difference by dya * dyb * d > 0.
    let side = |e: &Edge, other_dy: i128| {
        (i128::from(e.x0) * e.dy() * h.d + (h.n - i128::from(e.y0) * h.d) * e.dx()) * other_dy
    };
    side(a, b.dy()).cmp(&side(b, a.dy()))
}

/// `floor(x_e(h) / SUBPIXEL)` and `ceil(x_e(h) / SUBPIXEL)`: the pixel columns around the edge.
fn columns_at(e: &Edge, h: Height) -> (i64, i64) {
    if h.d == 1 {
        // Whole heights (vertices, row edges: nearly every cut) fit in i64: |num| < 2^48.
        let (dy, dx) = (e.y1 - e.y0, e.x1 - e.x0);
        let num = e.x0 * dy + (h.n as i64 - e.y0) * dx;
        let den = dy * SUBPIXEL;
        let floor = num.div_euclid(den);
        return (
            floor,
            if num.rem_euclid(den) == 0 {
                floor
            } else {
                floor + 1
            },
        );
    }
    let num = i128::from(e.x0) * e.dy() * h.d + (h.n - i128::from(e.y0) * h.d) * e.dx();
    let den = e.dy() * h.d * i128::from(SUBPIXEL);
    let floor = num.div_euclid(den);
    let ceil = if num.rem_euclid(den) == 0 {
        floor
    } else {
        floor + 1
    };
    (floor as i64, ceil as i64)
}

/// The height where two edges' lines cross, if they are not parallel.
fn crossing(a: &Edge, b: &Edge) -> Option<Height> {
    let d = a.dx() * b.dy() - b.dx() * a.dy();
    if d == 0 {
        return None;
    }
    let n = i128::from(b.x0 - a.x0) * a.dy() * b.dy() + i128::from(a.y0) * a.dx() * b.dy()
        - i128::from(b.y0) * b.dx() * a.dy();
    Some(if d > 0 {
        Height { n, d }
    } else {
        Height { n: -n, d: -d }
    })
}

/// Rasterises one polygon conservatively onto a `width` x `height` pixel grid.
pub fn rasterize(poly: &FixedPolygon, width: u32, height: u32) -> Spans {
    let pts = &poly.points;
    let mut edges: Vec<Edge> = Vec::with_capacity(pts.len());
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        match a.1.cmp(&b.1) {
            Ordering::Less => edges.push(Edge {
                x0: a.0,
                y0: a.1,
                x1: b.0,
                y1: b.1,
                dir: 1,
            }),
            Ordering::Greater => edges.push(Edge {
                x0: b.0,
                y0: b.1,
                x1: a.0,
                y1: a.1,
                dir: -1,
            }),
            Ordering::Equal => {} // horizontal edges change no winding number
        }
    }
    let mut builder = SpansBuilder::new(width, height);
    if edges.is_empty() {
        return builder.finish();
    }
    edges.sort_unstable_by_key(|e| e.y0);
    let ymin = edges.iter().map(|e| e.y0).min().unwrap_or(0);
    let ymax = edges.iter().map(|e| e.y1).max().unwrap_or(0);
    let first_row = ymin.div_euclid(SUBPIXEL).max(0);
    let last_row = (ymax + SUBPIXEL - 1)
        .div_euclid(SUBPIXEL)
        .min(i64::from(height));

    let mut active: Vec<Edge> = Vec::new();
    let mut cuts: Vec<Height> = Vec::new();
    let mut spanning: Vec<Edge> = Vec::new();
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut next = 0;
    for row in first_row..last_row {
        let (top, bottom) = (row * SUBPIXEL, (row + 1) * SUBPIXEL);
        active.retain(|e| e.y1 > top);
        while next < edges.len() && edges[next].y0 < bottom {
            if edges[next].y1 > top {
                active.push(edges[next]);
            }
            next += 1;
        }
        if active.is_empty() {
            continue;
        }
        // Most rows of most polygons: two edges crossing the whole band without meeting inside
        // it. Their one trapezoid is what the general case below finds with a single cut.
        if let [a, b] = active[..] {
            let whole = |e: &Edge| e.y0 <= top && e.y1 >= bottom;
            let (t, u) = (Height::int(top), Height::int(bottom));
            if whole(&a) && whole(&b) {
                let (at_top, at_bottom) = (cmp_at(&a, &b, t), cmp_at(&a, &b, u));
                let crosses = at_top != Ordering::Equal
                    && at_bottom != Ordering::Equal
                    && at_top != at_bottom;
                if !crosses {
                    if at_top == Ordering::Equal && at_bottom == Ordering::Equal {
                        continue; // coincident edges enclose nothing
                    }
                    let (l, r) = if at_top.then(at_bottom) == Ordering::Greater {
                        (b, a)
                    } else {
                        (a, b)
                    };
                    let ((l0, _), (l1, _)) = (columns_at(&l, t), columns_at(&l, u));
                    let ((_, r0), (_, r1)) = (columns_at(&r, t), columns_at(&r, u));
                    out.clear();
                    out.push((l0.min(l1), r0.max(r1)));
                    builder.push_row(row as u32, &mut out);
                    continue;
                }
            }
        }
        cuts.clear();
        cuts.push(Height::int(top));
        cuts.push(Height::int(bottom));
        for e in &active {
            for y in [e.y0, e.y1] {
                if top < y && y < bottom {
                    cuts.push(Height::int(y));
                }
            }
        }
        for (i, a) in active.iter().enumerate() {
            for b in &active[i + 1..] {
                if let Some(h) = crossing(a, b) {
                    let lo = top.max(a.y0).max(b.y0);
                    let hi = bottom.min(a.y1).min(b.y1);
                    if h.cmp_int(lo) == Ordering::Greater && h.cmp_int(hi) == Ordering::Less {
                        cuts.push(h);
                    }
                }
            }
        }
        cuts.sort_unstable_by(Height::cmp);
        cuts.dedup_by(|a, b| a.cmp(b) == Ordering::Equal);

        out.clear();
        for w in cuts.windows(2) {
            let (h0, h1) = (w[0], w[1]);
            spanning.clear();
            spanning.extend(active.iter().filter(|e| {
                h0.cmp_int(e.y0) != Ordering::Less && h1.cmp_int(e.y1) != Ordering::Greater
            }));
            spanning.sort_by(|a, b| cmp_at(a, b, h0).then_with(|| cmp_at(a, b, h1)));
            let mut winding = 0;
            for pair in spanning.windows(2) {
                let (l, r) = (&pair[0], &pair[1]);
                winding += l.dir;
                if winding == 0 {
                    continue;
                }
                let coincide =
                    cmp_at(l, r, h0) == Ordering::Equal && cmp_at(l, r, h1) == Ordering::Equal;
                if coincide {
                    continue;
                }
                let (l0, _) = columns_at(l, h0);
                let (l1, _) = columns_at(l, h1);
                let (_, r0) = columns_at(r, h0);
                let (_, r1) = columns_at(r, h1);
                out.push((l0.min(l1), r0.max(r1)));
            }
        }
        builder.push_row(row as u32, &mut out);
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Polygon;

    fn cover(points: &[(f64, f64)], w: u32, h: u32) -> Vec<String> {
        let spans = rasterize(&Polygon::new(points.to_vec()).unwrap().to_fixed(w, h), w, h);
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| if spans.contains(x, y) { '#' } else { '.' })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn pixel_aligned_rectangle_covers_exactly_its_pixels() {
        // x from 2/8 to 5/8 of 8 px, y from 1/4 to 3/4 of 4 px.
        let got = cover(
            &[(0.25, 0.25), (0.625, 0.25), (0.625, 0.75), (0.25, 0.75)],
            8,
            4,
        );
        assert_eq!(got, ["........", "..###...", "..###...", "........"]);
    }

    #[test]
    fn partial_pixels_are_covered_whole() {
        // 1.5 px to 3.25 px across, 0.5 to 1.1 px down.
        let got = cover(
            &[
                (1.5 / 6.0, 0.5 / 3.0),
                (3.25 / 6.0, 0.5 / 3.0),
                (3.25 / 6.0, 1.1 / 3.0),
                (1.5 / 6.0, 1.1 / 3.0),
            ],
            6,
            3,
        );
        assert_eq!(got, [".###..", ".###..", "......"]);
    }

    #[test]
    fn diagonal_touching_a_corner_only_does_not_cover() {
        // Triangle (0,0) (4,0) (0,4) on a 4x4 grid: the hypotenuse passes through pixel corners,
        // so pixels below the anti-diagonal are untouched.
        let got = cover(&[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)], 4, 4);
        assert_eq!(got, ["####", "###.", "##..", "#..."]);
    }

    #[test]
    fn bowtie_self_intersection_uses_nonzero_rule() {
        // Two triangles meeting at the pixel corner (2, 2) of a 4x4 grid.
        let got = cover(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)], 4, 4);
        assert_eq!(got, ["#..#", "####", "####", "#..#"]);
    }

    #[test]
    fn overlapping_winding_two_stays_covered_and_opposite_windings_cancel() {
        // A square traversed twice in the same direction: winding 2, still covered.
        let sq = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)];
        let twice: Vec<_> = sq.iter().chain(sq.iter()).copied().collect();
        assert_eq!(cover(&twice, 4, 4), ["....", ".##.", ".##.", "...."]);
        // An outer square with an inner square traversed the other way: a hole.
        let ring = [
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 1.0),
            (0.0, 1.0),
            (0.0, 0.0),
            (0.25, 0.25),
            (0.25, 0.75),
            (0.75, 0.75),
            (0.75, 0.25),
            (0.25, 0.25),
        ];
        assert_eq!(cover(&ring, 4, 4), ["####", "#..#", "#..#", "####"]);
    }

    #[test]
    fn sliver_covers_the_pixels_it_crosses() {
        // A triangle 0.04 px high along the top of row 2 touches every pixel of that row.
        let got = cover(&[(0.0, 0.5), (1.0, 0.5), (1.0, 0.51)], 5, 4);
        assert_eq!(got, [".....", ".....", "#####", "....."]);
    }

    #[test]
    fn outside_and_huge_polygons() {
        assert!(cover(&[(2.0, 2.0), (3.0, 2.0), (3.0, 3.0)], 3, 3)
            .iter()
            .all(|r| r == "..."));
        let all = cover(&[(-1e9, -1e9), (1e9, -1e9), (1e9, 1e9), (-1e9, 1e9)], 3, 2);
        assert_eq!(all, ["###", "###"]);
    }

    #[test]
    fn row_range_finds_the_first_and_last_rows_with_runs() {
        let rows = |r: Vec<Vec<(i64, i64)>>| Spans::from_rows(4, r.len() as u32, r);
        assert_eq!(rows(vec![vec![], vec![], vec![]]).row_range(), None);
        assert_eq!(rows(vec![vec![(0, 1)]]).row_range(), Some((0, 1)));
        let gaps = rows(vec![vec![], vec![(1, 2)], vec![], vec![(0, 4)], vec![]]);
        assert_eq!(gaps.row_range(), Some((1, 4)));
        let ends = rows(vec![vec![(0, 1)], vec![], vec![(3, 4)]]);
        assert_eq!(ends.row_range(), Some((0, 3)));
    }

    #[test]
    fn one_by_one_frame() {
        assert_eq!(cover(&[(0.4, 0.4), (0.6, 0.4), (0.5, 0.6)], 1, 1), ["#"]);
        assert_eq!(cover(&[(1.0, 0.0), (2.0, 0.0), (2.0, 1.0)], 1, 1), ["."]);
    }

    #[test]
    fn chroma_subsampling_covers_any_cosited_pixel() {
        let poly = Polygon::new(vec![(0.0, 0.0), (0.4, 0.0), (0.4, 0.2), (0.0, 0.2)]).unwrap();
        // 5x5 luma: columns 0..2, row 0 covered. Chroma 3x3: columns 0..1, row 0.
        let luma = rasterize(&poly.to_fixed(5, 5), 5, 5);
        let chroma = luma.subsample(2, 2);
        assert_eq!((chroma.width(), chroma.height()), (3, 3));
        assert_eq!(chroma.row(0), &[(0, 1)]);
        assert!(chroma.row(1).is_empty());
        let shifted = Polygon::new(vec![(0.2, 0.2), (0.6, 0.2), (0.6, 0.4), (0.2, 0.4)]).unwrap();
        let c = rasterize(&shifted.to_fixed(5, 5), 5, 5).subsample(2, 2);
        // luma columns 1..3, row 1 -> chroma columns 0..2, row 0.
        assert_eq!(c.row(0), &[(0, 2)]);
    }
}
