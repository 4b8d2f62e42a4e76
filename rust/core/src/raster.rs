//! Conservative coverage: which pixels a polygon's interior touches with positive area, for the
//! snapped polygon of [`crate::geometry::FixedPolygon`] (1/256 px), decided exactly in integer
//! arithmetic. (How that relates to the coordinates the user gave: see [`crate::geometry`].)
//!
//! The reference sweep (`general_row`, kept for the tests) works one pixel row (a horizontal band
//! one pixel high) at a time. Inside a band it cuts at every vertex height and every height where
//! two edges cross, so that between two cuts the edges are straight, never cross, and keep their
//! left-to-right order. Between neighbouring edges the winding number is then constant; where it
//! is nonzero the region is an open trapezoid whose horizontal extent is the span between the
//! leftmost and rightmost of its four corners, and a pixel of the band is covered iff its open
//! column meets that span. It costs a pass over the edges per crossing: quadratic in the edges of
//! a band, and worse for a polygon crossing itself everywhere.
//!
//! [`rasterize`] returns exactly the reference's spans in time near-linear in the edges crossing
//! each row, however many cross each other, with two sweeps:
//!
//! **The chain sweep** (most rows of most polygons) follows the polygon's *chains* (maximal runs
//! of consecutive edges that all go down, or all go up; horizontal edges between them are
//! skipped) and checks, rather than searches, that nothing crosses:
//!
//! - Each active chain carries an exact walker for its pixel column at row boundaries (quotient
//!   and remainder of `x / SUBPIXEL`, advanced one row at a time by a fixed step), so a band's
//!   columns cost no division unless an edge starts inside it or it has to be cut.
//! - A band is cut only where a chain starts or ends, which most bands have nowhere. Every chain
//!   present in such a piece `[h0, h1]` spans it; its columns over the piece range from `lo`, the
//!   least floor, to `hi`, the greatest ceil, taken at `h0`, at `h1` and at its vertices inside
//!   (both ends of a skipped horizontal edge). The chains are sorted by `lo + hi`, and each
//!   neighbour pair `l`, `r` must be in order all across the piece: either both are single edges
//!   there and `x_l <= x_r` at `h0` and at `h1` (exactly: by columns where they are apart, by
//!   `cmp_at` where they share one), or `l.hi <= r.lo`.
//! - Then no two edges cross inside the piece, so the reference cuts it only at the chains'
//!   vertices. Each of its sub-bands holds one edge per chain, in this order up to coincident
//!   edges (which it sorts in either order to the same spans), every gap keeps its winding, and a
//!   gap's trapezoid spans overlap or touch from one sub-band to the next (at a shared cut both
//!   reach from `l`'s floor to `r`'s ceil there, or both cover `[l.hi, r.lo]`), so together they
//!   are the single span `[l.lo, r.hi)`, which is what is pushed. Coincident single edges
//!   enclose nothing and are skipped like the reference does; in the second kind of pair, edges
//!   can only meet along the column line `l.hi == r.lo`, where the reference's span is empty.
//!
//! **The boundary sweep** (`boundary_row`) does the rows where that check fails (chains cross,
//! or are too close to tell apart), bands cut into more than a few pieces, and rows crossed by
//! more than `MAX_CHAINS` chains, in `O(k log k)` (or `O(k + width)`) for the `k` edges
//! overlapping the band, without looking for a single crossing. It rests on this: where the
//! boundary passes through a pixel's open square, the windings just either side of it differ by
//! the sum of the windings of the edges along it there, so unless those cancel (edges out and
//! back along one line) one side is nonzero and the pixel is covered; and a pixel the boundary
//! does not pass through has one winding all over, the one at its centre. So a band's cover is
//! the columns each edge piece (and each horizontal edge strictly inside) passes through, after
//! cancelling edges on shared lines, plus the columns whose centre on the band's middle height
//! has a nonzero winding, counted from the edges crossing that height. After a failure the chain
//! sweep waits a few rows (doubling, up to 64) before it tries again.
//!
//! Tests compare [`rasterize`], and the boundary sweep alone, with the reference sweep on many
//! random polygons.
//!
//! Bounds: coordinates lie within `±2^23` units, edge extents within `2^24`, so a crossing height
//! is a fraction `n / d` with `|n| < 2^74` and `0 < d < 2^49`, and the widest product formed below
//! (the sign of the difference of two edges at such a height) stays under `2^124`. At a whole
//! height within an edge, `x / SUBPIXEL = n / d` with `|n| < 2^49` and `0 < d <= 2^32`, and the
//! walker's remainder stays below `2^33`: the fast path's columns fit in `i64`, and so do the
//! boundary sweep's (`x` at the middle height: `|n| < 2^49`, divided by `256 dy < 2^33`).

use std::cmp::Ordering;

use crate::error::Result;
use crate::geometry::{line_key, FixedPolygon, SUBPIXEL};
use crate::spans::{reserve, Spans, SpansBuilder};

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
    #[cfg(test)]
    fn cmp(&self, o: &Height) -> Ordering {
        (self.n * o.d).cmp(&(o.n * self.d))
    }
    #[cfg(test)]
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
#[cfg(test)]
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
#[cfg(test)]
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

/// The polygon's non-horizontal edges, oriented top to bottom, sorted by upper end.
#[cfg(test)]
fn edges_of(poly: &FixedPolygon) -> Vec<Edge> {
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
    edges.sort_unstable_by_key(|e| e.y0);
    edges
}

/// The pixel rows `[first, last)` of a `height`-row plane that the edges can touch.
fn row_range(edges: &[Edge], height: u32) -> (i64, i64) {
    let ymin = edges.iter().map(|e| e.y0).min().unwrap_or(0);
    let ymax = edges.iter().map(|e| e.y1).max().unwrap_or(0);
    let first_row = ymin.div_euclid(SUBPIXEL).max(0);
    let last_row = (ymax + SUBPIXEL - 1)
        .div_euclid(SUBPIXEL)
        .min(i64::from(height));
    (first_row, last_row)
}

/// Scratch space of [`general_row`], kept across rows.
#[cfg(test)]
#[derive(Default)]
struct GeneralScratch {
    cuts: Vec<Height>,
    spanning: Vec<Edge>,
}

/// The reference sweep of one band `[top, bottom]` over the edges that overlap it (in any order):
/// cut at vertex and crossing heights, sort the spanning edges of every sub-band, and push the
/// span of each nonzero-winding gap onto `out`.
#[cfg(test)]
fn general_row(
    active: &[Edge],
    top: i64,
    bottom: i64,
    scratch: &mut GeneralScratch,
    out: &mut Vec<(i64, i64)>,
) {
    let GeneralScratch { cuts, spanning } = scratch;
    cuts.clear();
    cuts.push(Height::int(top));
    cuts.push(Height::int(bottom));
    for e in active {
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
}

/// The reference sweep alone, without the fast path: what [`rasterize`] must equal.
#[cfg(test)]
fn rasterize_reference(poly: &FixedPolygon, width: u32, height: u32) -> Spans {
    let edges = edges_of(poly);
    let mut builder = SpansBuilder::new(width, height);
    let (first_row, last_row) = row_range(&edges, height);
    let mut active: Vec<Edge> = Vec::new();
    let mut scratch = GeneralScratch::default();
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
        out.clear();
        general_row(&active, top, bottom, &mut scratch, &mut out);
        builder.push_row(row as u32, &mut out);
    }
    builder.finish().unwrap()
}

/// A y-monotone run of polygon edges: consecutive edges that all go down, or all go up, in polygon
/// order (horizontal edges between them skipped), as `edges[first..end]` top to bottom.
#[derive(Clone, Copy, Debug)]
struct Chain {
    first: usize,
    end: usize,
    y_start: i64,
    y_end: i64,
}

/// A horizontal edge at height `y` from `x0` to `x1 > x0`, with `dir` +1 when the polygon runs
/// along it to the right. Chains skip these (they change no winding number along a vertical
/// line), but the boundary sweep needs them: they are boundary all the same.
#[derive(Clone, Copy, Debug)]
struct Flat {
    y: i64,
    x0: i64,
    x1: i64,
    dir: i32,
}

/// Splits the polygon into its chains, sorted by upper end, and their edges; and lists its
/// horizontal edges, sorted by height.
fn chains_of(poly: &FixedPolygon) -> Result<(Vec<Edge>, Vec<Chain>, Vec<Flat>)> {
    let pts = &poly.points;
    let n = pts.len();
    let mut edges: Vec<Edge> = Vec::new();
    let mut chains: Vec<Chain> = Vec::new();
    let mut flats: Vec<Flat> = Vec::new();
    reserve(&mut edges, n)?;
    let dir = |i: usize| (pts[(i + 1) % n].1 - pts[i].1).signum() as i32;
    for i in (0..n).filter(|&i| dir(i) == 0) {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        if a.0 != b.0 {
            if flats.is_empty() {
                reserve(&mut flats, n)?;
            }
            flats.push(Flat {
                y: a.1,
                x0: a.0.min(b.0),
                x1: a.0.max(b.0),
                dir: if a.0 < b.0 { 1 } else { -1 },
            });
        }
    }
    flats.sort_unstable_by_key(|f| f.y);
    // Start where the direction turns, so that no chain wraps around the end of the list.
    let Some(i0) = (0..n).find(|&i| dir(i) != 0) else {
        return Ok((edges, chains, flats));
    };
    let turn = (1..n)
        .map(|k| (i0 + k) % n)
        .find(|&i| dir(i) == -dir(i0))
        .unwrap_or(i0);
    // At most one chain per two edges, as directions alternate between chains.
    reserve(&mut chains, n / 2 + 1)?;
    let mut close = |edges: &mut Vec<Edge>, first: usize, d: i32| {
        if edges.len() > first {
            if d < 0 {
                edges[first..].reverse();
            }
            chains.push(Chain {
                first,
                end: edges.len(),
                y_start: edges[first].y0,
                y_end: edges[edges.len() - 1].y1,
            });
        }
    };
    let (mut first, mut d) = (0, 0);
    for k in 0..n {
        let i = (turn + k) % n;
        let di = dir(i);
        if di == 0 {
            continue;
        }
        if di != d {
            close(&mut edges, first, d);
            (first, d) = (edges.len(), di);
        }
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        let (a, b) = if di > 0 { (a, b) } else { (b, a) };
        edges.push(Edge {
            x0: a.0,
            y0: a.1,
            x1: b.0,
            y1: b.1,
            dir: di,
        });
    }
    close(&mut edges, first, d);
    chains.sort_unstable_by_key(|c| c.y_start);
    // Lay the edges out chain by chain in that order: the sweep then reads them front to back.
    let mut sorted: Vec<Edge> = Vec::new();
    reserve(&mut sorted, edges.len())?;
    for c in &mut chains {
        let first = sorted.len();
        sorted.extend_from_slice(&edges[c.first..c.end]);
        (c.first, c.end) = (first, sorted.len());
    }
    Ok((sorted, chains, flats))
}

/// `columns_at` for a whole height `h` within the edge's extent, without a division at its ends.
fn columns_int(e: &Edge, h: i64) -> (i64, i64) {
    let x = if h == e.y0 {
        e.x0
    } else if h == e.y1 {
        e.x1
    } else {
        let (dy, dx) = (e.y1 - e.y0, e.x1 - e.x0);
        let (q, r) = floor_div(e.x0 * dy + (h - e.y0) * dx, dy * SUBPIXEL);
        return (q, q + i64::from(r != 0));
    };
    columns_of(x)
}

/// `(floor(n / d), n - d * floor(n / d))` for `0 < d`.
fn floor_div(n: i64, d: i64) -> (i64, i64) {
    (n.div_euclid(d), n.rem_euclid(d))
}

/// `floor` and `ceil` of `x / SUBPIXEL`.
fn columns_of(x: i64) -> (i64, i64) {
    (
        x.div_euclid(SUBPIXEL),
        (x + SUBPIXEL - 1).div_euclid(SUBPIXEL),
    )
}

/// Whether `x_l(h) <= x_r(h)` (`Some`), and then whether they are equal; `(fl, cl)` and
/// `(fr, cr)` are the columns of `l` and `r` at `h`.
fn ordered_at(
    l: &Edge,
    r: &Edge,
    h: i64,
    (fl, cl): (i64, i64),
    (fr, cr): (i64, i64),
) -> Option<bool> {
    if cl <= fr {
        // x_l <= SUBPIXEL * cl <= SUBPIXEL * fr <= x_r: equal only if both are that column line.
        return Some(fl == cr);
    }
    match cmp_at(l, r, Height::int(h)) {
        Ordering::Greater => None,
        o => Some(o == Ordering::Equal),
    }
}

/// A chain over a sub-band `[h0, h1]` that it spans.
#[derive(Clone, Copy, Debug, Default)]
struct Band {
    /// The chain's edge just below `h0`, and the winding it contributes.
    e: usize,
    dir: i32,
    /// Whether a vertex of the chain lies strictly inside the sub-band.
    inner: bool,
    /// `(floor, ceil)` of the column at `h0` of edge `e` (`f0`, `c0`), and at `h1` of the
    /// chain's edge just above `h1` (`f1`, `c1`; the same edge without an inner vertex).
    f0: i64,
    c0: i64,
    f1: i64,
    c1: i64,
    /// The least floor and the greatest ceil of the chain's column over the sub-band.
    lo: i64,
    hi: i64,
}

impl Band {
    /// Sort key: never decreases from left to right along chains in an order that
    /// [`emit_bands`] accepts.
    fn key(&self) -> i64 {
        self.lo + self.hi
    }
}

/// Follows a chain from its edge `e` just below `h0`, where its columns are `(f0, c0)`, down to
/// `h1`: the edge just above `h1`, and the least floor and greatest ceil at `h0` and the vertices
/// strictly inside.
fn walk_down(edges: &[Edge], e: usize, (f0, c0): (i64, i64), h1: i64) -> (usize, i64, i64) {
    let (mut cur, mut lo, mut hi) = (e, f0, c0);
    while edges[cur].y1 < h1 {
        // Both ends of the vertex: a skipped horizontal edge makes the column jump there.
        for x in [edges[cur].x1, edges[cur + 1].x0] {
            let (f, c) = columns_of(x);
            (lo, hi) = (lo.min(f), hi.max(c));
        }
        cur += 1;
    }
    (cur, lo, hi)
}

/// The fast path's order on chains over `[h0, h1]`: by key; on ties, chains with a vertex inside
/// first, and chains without by exact position at `h0`, then at `h1` (a total preorder).
fn band_cmp(a: &Band, b: &Band, edges: &[Edge], h0: i64, h1: i64) -> Ordering {
    a.key()
        .cmp(&b.key())
        .then(b.inner.cmp(&a.inner))
        .then_with(|| {
            if a.inner {
                return Ordering::Equal;
            }
            let (ea, eb) = (&edges[a.e], &edges[b.e]);
            cmp_at(ea, eb, Height::int(h0)).then_with(|| cmp_at(ea, eb, Height::int(h1)))
        })
}

/// Sorts nearly sorted slices by insertion (chains keep their order from row to row unless
/// they cross), others with the standard sort.
fn sort_nearly_sorted<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    // Insertion sort while the moves stay within a budget linear in the length.
    let mut budget = 4 * v.len() + 64;
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(&v[j], &v[j - 1]) == Ordering::Less {
            v.swap(j, j - 1);
            j -= 1;
            budget -= 1;
            if budget == 0 {
                v.sort_unstable_by(cmp);
                return;
            }
        }
    }
}

/// The fast path on a piece `[h0, h1]` of a band that all the given chains span (all the chains
/// present there), sorted by [`band_cmp`]. Each neighbour pair must be in order all across the
/// piece: both without a vertex inside and in order at `h0` and at `h1`, or else the left one's
/// columns at or left of the right one's (`l.hi <= r.lo`). Then pushes the reference sweep's
/// spans for the piece (see the module doc) and returns `true`; otherwise returns `false`,
/// having pushed some.
fn emit_bands<T>(
    v: &[T],
    band: impl Fn(&T) -> &Band,
    edges: &[Edge],
    h0: i64,
    h1: i64,
    out: &mut Vec<(i64, i64)>,
) -> bool {
    let mut winding = 0;
    for pair in v.windows(2) {
        let (l, r) = (band(&pair[0]), band(&pair[1]));
        let coincide = if l.inner || r.inner {
            if l.hi > r.lo {
                return false;
            }
            false // if they met along a sub-band, it would be on a column line: an empty span
        } else {
            let (el, er) = (&edges[l.e], &edges[r.e]);
            let Some(eq0) = ordered_at(el, er, h0, (l.f0, l.c0), (r.f0, r.c0)) else {
                return false;
            };
            let Some(eq1) = ordered_at(el, er, h1, (l.f1, l.c1), (r.f1, r.c1)) else {
                return false;
            };
            eq0 && eq1
        };
        winding += l.dir;
        if winding != 0 && !coincide {
            out.push((l.lo, r.hi));
        }
    }
    true
}

/// An active chain of the fast path, with an exact walker for the pixel column of its current
/// edge at successive row boundaries.
#[derive(Clone, Copy, Debug)]
struct Track {
    /// The current edge and the chain's end, in the edge list.
    cur: usize,
    end: usize,
    y_start: i64,
    y_end: i64,
    /// Height of the walker (`i64::MIN` before the first), at which the current edge has
    /// `x / SUBPIXEL = q + r / den`, `0 <= r < den`; one row down adds `qs + rs / den`.
    wh: i64,
    q: i64,
    r: i64,
    den: i64,
    qs: i64,
    rs: i64,
    /// The chain's first edge in the current band, and `(floor, ceil)` of its column at the
    /// band's bottom if it gets there.
    band_first: usize,
    fb: i64,
    cb: i64,
    /// The chain over the current band (or sub-band).
    band: Band,
}

impl Track {
    fn new(c: &Chain, edges: &[Edge]) -> Self {
        Track {
            cur: c.first,
            end: c.end,
            y_start: c.y_start,
            y_end: c.y_end,
            wh: i64::MIN,
            q: 0,
            r: 0,
            den: 1,
            qs: 0,
            rs: 0,
            band_first: c.first,
            fb: 0,
            cb: 0,
            band: Band {
                e: c.first,
                dir: edges[c.first].dir,
                ..Band::default()
            },
        }
    }

    /// Puts the walker on the current edge at the whole height `h`.
    fn init(&mut self, edges: &[Edge], h: i64) {
        let e = &edges[self.cur];
        let (dy, dx) = (e.y1 - e.y0, e.x1 - e.x0);
        self.den = dy * SUBPIXEL;
        if h == e.y0 {
            (self.q, self.r) = (e.x0.div_euclid(SUBPIXEL), e.x0.rem_euclid(SUBPIXEL) * dy);
        } else {
            (self.q, self.r) = floor_div(e.x0 * dy + (h - e.y0) * dx, self.den);
        }
        let (qs, rs) = floor_div(dx, dy);
        (self.qs, self.rs) = (qs, rs * SUBPIXEL);
        self.wh = h;
    }

    /// Moves the walker one row down its current edge.
    fn step(&mut self) {
        // Branch-free: the carry is as good as random.
        let r = self.r + self.rs;
        let carry = i64::from(r >= self.den);
        self.q += self.qs + carry;
        self.r = r - carry * self.den;
        self.wh += SUBPIXEL;
    }

    /// `(floor, ceil)` of the column at the walker.
    fn columns(&self) -> (i64, i64) {
        (self.q, self.q + i64::from(self.r != 0))
    }

    /// Moves to the edge just below the whole height `h` (at most `y_end`) and the walker to `h`.
    fn seek(&mut self, edges: &[Edge], h: i64) {
        while self.cur + 1 < self.end && edges[self.cur].y1 <= h {
            self.cur += 1;
        }
        self.init(edges, h);
    }

    /// Moves the walker from `top` (or from the chain's start inside the band) down to `bottom`,
    /// which the chain reaches: sets `(fb, cb)` from the edge just above `bottom`, and leaves the
    /// walker on the edge just below it.
    fn advance(&mut self, edges: &[Edge], top: i64, bottom: i64) {
        let old = self.cur;
        while edges[self.cur].y1 < bottom {
            self.cur += 1;
        }
        if self.cur != old || self.wh != top {
            self.init(edges, bottom);
        } else {
            self.step();
        }
        (self.fb, self.cb) = self.columns();
        if edges[self.cur].y1 == bottom && self.cur + 1 < self.end {
            self.cur += 1;
            self.init(edges, bottom);
        }
    }

    /// Sweeps a band `[top, bottom]` that the chain spans, from the walker at `top` on the edge
    /// below it: sets `band`, and leaves the walker at `bottom` on the edge below it.
    fn sweep(&mut self, edges: &[Edge], top: i64, bottom: i64) {
        debug_assert!(self.wh == top && edges[self.cur].y0 <= top && top < edges[self.cur].y1);
        let e = self.cur;
        self.band_first = e;
        let (f0, c0) = self.columns();
        let (cur, lo, hi) = walk_down(edges, e, (f0, c0), bottom);
        let inner = cur != e;
        if inner {
            self.cur = cur;
            self.init(edges, bottom);
        } else {
            self.step();
        }
        let (f1, c1) = self.columns();
        self.band = Band {
            e,
            dir: self.band.dir,
            inner,
            f0,
            c0,
            f1,
            c1,
            lo: lo.min(f1),
            hi: hi.max(c1),
        };
        if edges[self.cur].y1 == bottom && self.cur + 1 < self.end {
            self.cur += 1;
            self.init(edges, bottom);
        }
    }
}

/// Pieces a band may be cut into for [`chain_sub_bands`] (each is a pass over the chains).
const MAX_PIECES: usize = 8;

/// Most rows the chain sweep skips after failing (it fails again in a run of crossing chains).
const MAX_BACKOFF: i64 = 64;

/// Most chains across a row for the chain sweep: it sorts them, and beyond this many (a rare,
/// complex outline) the boundary sweep's linear passes are as fast and never degrade. (Low in
/// the tests, so that the random polygons there switch between the two sweeps.)
#[cfg(not(test))]
const MAX_CHAINS: u32 = 128;
#[cfg(test)]
const MAX_CHAINS: u32 = 6;

/// Which rows of `[first_row, last_row)` more than [`MAX_CHAINS`] chains cross (empty when no
/// row can be).
fn crowded_rows(chains: &[Chain], first_row: i64, last_row: i64) -> Result<Vec<bool>> {
    let mut crowded = Vec::new();
    if chains.len() <= MAX_CHAINS as usize {
        return Ok(crowded);
    }
    let rows = (last_row - first_row).max(0) as usize;
    let mut diff: Vec<i32> = Vec::new();
    reserve(&mut diff, rows + 1)?;
    diff.resize(rows + 1, 0);
    let row_of = |y: i64| (y.div_euclid(SUBPIXEL) - first_row).clamp(0, rows as i64) as usize;
    for c in chains {
        diff[row_of(c.y_start)] += 1;
        diff[row_of(c.y_end + SUBPIXEL - 1)] -= 1;
    }
    reserve(&mut crowded, rows)?;
    let mut n = 0;
    crowded.extend(diff[..rows].iter().map(|d| {
        n += d;
        n > MAX_CHAINS as i32
    }));
    Ok(crowded)
}

/// The edges overlapping the current band, for the boundary sweep of crowded rows: edges are
/// taken in order of upper end and dropped below their lower end (brought up to date lazily,
/// so rows in between cost nothing).
#[derive(Default)]
struct ActiveEdges {
    /// Edge indices by upper end, and how many have been taken.
    order: Vec<usize>,
    next: usize,
    active: Vec<usize>,
}

impl ActiveEdges {
    fn update(&mut self, edges: &[Edge], top: i64, bottom: i64) -> Result<()> {
        if self.order.is_empty() {
            reserve(&mut self.order, edges.len())?;
            self.order.extend(0..edges.len());
            self.order.sort_unstable_by_key(|&i| edges[i].y0);
        }
        self.active.retain(|&i| edges[i].y1 > top);
        while self.next < self.order.len() && edges[self.order[self.next]].y0 < bottom {
            let i = self.order[self.next];
            if edges[i].y1 > top {
                self.active.push(i);
            }
            self.next += 1;
        }
        Ok(())
    }
}

/// Starts the cut heights of the band `[top, bottom]` with its two ends.
fn start_cuts(cuts: &mut Vec<i64>, top: i64, bottom: i64) {
    cuts.clear();
    cuts.push(top);
    cuts.push(bottom);
}

/// Adds the heights of `ys` that lie strictly inside the band `[top, bottom]` to its cuts.
fn cut_inside(cuts: &mut Vec<i64>, top: i64, bottom: i64, ys: [i64; 2]) {
    cuts.extend(ys.into_iter().filter(|&y| top < y && y < bottom));
}

/// The fast path on a band that some chains start or end inside: cut there, and run
/// [`emit_bands`] on each piece. Returns `false` where that fails. Either way, leaves the walkers
/// at `bottom` on the edges just below it, and sets `band_first`.
fn chain_sub_bands(
    tracks: &mut [Track],
    edges: &[Edge],
    (top, bottom): (i64, i64),
    attempt: bool,
    cuts: &mut Vec<i64>,
    bands: &mut Vec<Band>,
    out: &mut Vec<(i64, i64)>,
) -> bool {
    start_cuts(cuts, top, bottom);
    for t in tracks.iter_mut() {
        if t.y_start <= top && t.wh != top {
            t.seek(edges, top); // rows went to the boundary sweep since the last
        }
        cut_inside(cuts, top, bottom, [t.y_start, t.y_end]);
        // `band.e` and `(band.f0, band.c0)`: the edge just below the next cut the chain spans,
        // and its columns there.
        t.band_first = t.cur;
        t.band.e = t.cur;
        (t.band.f0, t.band.c0) = if t.y_start > top {
            columns_of(edges[t.cur].x0)
        } else {
            t.columns()
        };
        if t.y_end >= bottom {
            t.advance(edges, top, bottom);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    // Each piece costs a pass over the chains: with many, the boundary sweep is cheaper.
    if !attempt || cuts.len() > MAX_PIECES + 1 {
        return false;
    }
    cuts.windows(2).all(|w| {
        let (h0, h1) = (w[0], w[1]);
        bands.clear();
        for t in tracks.iter_mut() {
            if t.y_start > h0 || t.y_end < h1 {
                continue;
            }
            let (e, f0, c0) = (t.band.e, t.band.f0, t.band.c0);
            let (cur, lo, hi) = walk_down(edges, e, (f0, c0), h1);
            let (f1, c1) = if h1 == bottom {
                (t.fb, t.cb)
            } else {
                columns_int(&edges[cur], h1)
            };
            bands.push(Band {
                e,
                dir: t.band.dir,
                inner: cur != e,
                f0,
                c0,
                f1,
                c1,
                lo: lo.min(f1),
                hi: hi.max(c1),
            });
            (t.band.e, t.band.f0, t.band.c0) = if edges[cur].y1 == h1 && cur + 1 < t.end {
                let (f, c) = columns_of(edges[cur + 1].x0);
                (cur + 1, f, c)
            } else {
                (cur, f1, c1)
            };
        }
        sort_nearly_sorted(bands, |a, b| band_cmp(a, b, edges, h0, h1));
        emit_bands(bands, |b| b, edges, h0, h1, out)
    })
}

/// Which edges (by index) and flats lie on a line shared with another one of the same kind, as
/// an id of that line (`NONE` for the rest). Only edges on one line can cancel each other.
#[derive(Default)]
struct Lines {
    edge: Vec<u32>,
    flat: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Lines {
    fn of(edges: &[Edge], flats: &[Flat]) -> Result<Lines> {
        let mut keys: Vec<((i64, i64, i64), u32)> = Vec::new();
        reserve(&mut keys, edges.len())?;
        keys.extend(
            edges
                .iter()
                .enumerate()
                .map(|(i, e)| (line_key((e.x0, e.y0), (e.x1, e.y1)), i as u32)),
        );
        keys.sort_unstable();
        let mut edge = Vec::new();
        reserve(&mut edge, edges.len())?;
        edge.resize(edges.len(), NONE);
        for group in keys.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
            for &(_, i) in group {
                edge[i as usize] = group[0].1;
            }
        }
        // Flats are sorted by height: a line is a run of equal heights.
        let mut flat = Vec::new();
        reserve(&mut flat, flats.len())?;
        flat.resize(flats.len(), NONE);
        let mut i = 0;
        for group in flats.chunk_by(|a, b| a.y == b.y) {
            if group.len() > 1 {
                flat[i..i + group.len()].fill(i as u32);
            }
            i += group.len();
        }
        Ok(Lines { edge, flat })
    }
}

/// Scratch space of [`boundary_row`], kept across rows.
#[derive(Default)]
struct BoundaryScratch {
    /// Column ranges `[a, b)` whose open pixels the boundary passes through.
    touched: Vec<(i64, i64)>,
    /// For each edge crossing the band's middle height: the first column whose centre lies to
    /// its right, and its winding.
    crossings: Vec<(i64, i32)>,
    /// Pieces of edges on shared lines: `(line, start, end, winding)`, heights (edges) or
    /// abscissas (flats) in 1/256 px.
    shared: Vec<(u32, i64, i64, i32)>,
    events: Vec<(i64, i32)>,
    /// Per column of the row (and one past): changes of the touched count and of the winding.
    dense: Vec<(i32, i32)>,
}

/// Pushes the pieces of one line (sorted by line, at most `shared` long) where the windings of its
/// pieces do not cancel: `emit(start, end)` for each maximal stretch with a nonzero sum.
fn uncancelled(
    pieces: &[(u32, i64, i64, i32)],
    events: &mut Vec<(i64, i32)>,
    mut emit: impl FnMut(i64, i64),
) {
    for group in pieces.chunk_by(|a, b| a.0 == b.0) {
        events.clear();
        for &(_, a, b, d) in group {
            events.push((a, d));
            events.push((b, -d));
        }
        events.sort_unstable();
        let (mut sum, mut start) = (0, 0);
        for ev in events.chunk_by(|a, b| a.0 == b.0) {
            let at = ev[0].0;
            let next = sum + ev.iter().map(|e| e.1).sum::<i32>();
            if sum == 0 && next != 0 {
                start = at;
            } else if sum != 0 && next == 0 {
                emit(start, at);
            }
            sum = next;
        }
    }
}

/// The boundary sweep of one band `[top, bottom]`, for the rows the chain sweep cannot do: given
/// the edges overlapping the band (by index) and all the flats (sorted by height; the ones
/// strictly inside the band are picked here), pushes the
/// band's covered columns onto `out`, in `O(k log k)` for `k` of them whatever the crossings.
///
/// Where the boundary passes through a pixel's open square, the windings on its two sides differ
/// by the sum of the windings of the edges along it there, so unless those cancel (edges out and
/// back along one line) one side is nonzero and the pixel is covered. Any other pixel meets no
/// boundary: the winding is the same all over it, the one at its centre on the band's middle
/// height, counted from the edges crossing that height to the left (half-open in height).
#[allow(clippy::too_many_arguments)]
fn boundary_row(
    edges: &[Edge],
    band: &[usize],
    flats: &[Flat],
    lines: &Lines,
    (top, bottom): (i64, i64),
    width: usize,
    scratch: &mut BoundaryScratch,
    out: &mut Vec<(i64, i64)>,
) {
    let BoundaryScratch {
        touched,
        crossings,
        shared,
        events,
        dense,
    } = scratch;
    touched.clear();
    crossings.clear();
    shared.clear();
    let mid = top + SUBPIXEL / 2;
    for &i in band {
        let e = &edges[i];
        let (ya, yb) = (e.y0.max(top), e.y1.min(bottom));
        if lines.edge[i] == NONE {
            let ((fa, ca), (fb, cb)) = (columns_int(e, ya), columns_int(e, yb));
            touched.push((fa.min(fb), ca.max(cb)));
        } else {
            shared.push((lines.edge[i], ya, yb, e.dir));
        }
        if e.y0 <= mid && mid < e.y1 {
            // x(mid) = n / dy; the first column c with x < 256 c + 128.
            let dy = e.y1 - e.y0;
            let n = e.x0 * dy + (mid - e.y0) * (e.x1 - e.x0);
            let (q, _) = floor_div(n - SUBPIXEL / 2 * dy, SUBPIXEL * dy);
            crossings.push((q + 1, e.dir));
        }
    }
    // Edges on one line: only where their windings do not cancel. All the edges of a line
    // give the same abscissa at a height; the group's first edge computes it.
    shared.sort_unstable();
    let mut k = 0;
    while k < shared.len() {
        let line = shared[k].0;
        let end = k + shared[k..].iter().take_while(|p| p.0 == line).count();
        let e = &edges[line as usize];
        uncancelled(&shared[k..end], events, |ya, yb| {
            let ((fa, ca), (fb, cb)) = (columns_int(e, ya), columns_int(e, yb));
            touched.push((fa.min(fb), ca.max(cb)));
        });
        k = end;
    }
    shared.clear();
    let flat_first = flats.partition_point(|f| f.y <= top);
    let inside = &flats[flat_first..flats.partition_point(|f| f.y < bottom)];
    for (j, f) in inside.iter().enumerate() {
        let line = lines.flat[flat_first + j];
        if line == NONE {
            touched.push((columns_of(f.x0).0, columns_of(f.x1).1));
        } else {
            shared.push((line, f.x0, f.x1, f.dir));
        }
    }
    shared.sort_unstable();
    uncancelled(shared, events, |xa, xb| {
        touched.push((columns_of(xa).0, columns_of(xb).1));
    });

    // Walk the columns: touched runs are covered; between them, columns whose winding is not 0.
    // Dense when there are many pieces for the width (difference arrays over the row), else
    // sorted.
    if touched.len() + crossings.len() > width / 8 {
        let w = width as i64;
        dense.resize(width + 1, (0, 0));
        for &(a, b) in touched.iter() {
            let (a, b) = (a.clamp(0, w) as usize, b.clamp(0, w) as usize);
            if a < b {
                dense[a].0 += 1;
                dense[b].0 -= 1;
            }
        }
        for &(k, d) in crossings.iter() {
            dense[k.clamp(0, w) as usize].1 += d;
        }
        let (mut t, mut winding, mut start) = (0, 0, None);
        for (c, d) in dense[..width].iter_mut().enumerate() {
            t += d.0;
            winding += d.1;
            *d = (0, 0);
            match (t > 0 || winding != 0, start) {
                (true, None) => start = Some(c as i64),
                (false, Some(a)) => {
                    out.push((a, c as i64));
                    start = None;
                }
                _ => {}
            }
        }
        dense[width] = (0, 0);
        if let Some(a) = start {
            out.push((a, w));
        }
        return;
    }
    touched.retain(|r| r.0 < r.1);
    touched.sort_unstable();
    crossings.sort_unstable();
    let (mut winding, mut k) = (0, 0);
    let mut c = i64::MIN;
    let mut runs = touched.iter().copied().peekable();
    loop {
        let (a, b) = match runs.next() {
            Some((a, mut b)) => {
                while let Some(&(a2, b2)) = runs.peek() {
                    if a2 > b {
                        break;
                    }
                    b = b.max(b2);
                    runs.next();
                }
                (a, b)
            }
            None => (i64::MAX, i64::MAX),
        };
        // The untouched columns [c, a).
        while c < a {
            while k < crossings.len() && crossings[k].0 <= c {
                winding += crossings[k].1;
                k += 1;
            }
            let next = if k < crossings.len() {
                crossings[k].0.min(a)
            } else {
                a
            };
            if winding != 0 {
                out.push((c, next));
            }
            c = next;
        }
        if a == i64::MAX {
            break;
        }
        out.push((a, b));
        c = c.max(b);
    }
}

/// Rasterises one polygon conservatively onto a `width` x `height` pixel grid.
pub fn rasterize(poly: &FixedPolygon, width: u32, height: u32) -> Result<Spans> {
    debug_assert!(
        poly.points
            .iter()
            .all(|p| p.0.unsigned_abs() < 1 << 23 && p.1.unsigned_abs() < 1 << 23),
        "coordinates out of the rasteriser's bounds"
    );
    let (edges, chains, flats) = chains_of(poly)?;
    let mut builder = SpansBuilder::new(width, height);
    let (first_row, last_row) = row_range(&edges, height);
    builder.reserve((last_row - first_row).max(0) as usize);
    let mut tracks: Vec<Track> = Vec::new();
    let mut bands: Vec<Band> = Vec::new();
    let mut band: Vec<usize> = Vec::new();
    let mut cuts: Vec<i64> = Vec::new();
    let mut lines: Option<Lines> = None;
    let mut scratch = BoundaryScratch::default();
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut next = 0;
    let (mut first_end, mut last_start) = (i64::MAX, i64::MIN);
    let (mut retry_at, mut backoff) = (first_row, 1);
    // Rows crossed by more than MAX_CHAINS chains go to the boundary sweep over an active edge
    // list; the tracks catch up when the chain sweep takes over again.
    let crowded = crowded_rows(&chains, first_row, last_row)?;
    let mut aet = ActiveEdges::default();
    for row in first_row..last_row {
        let (top, bottom) = (row * SUBPIXEL, (row + 1) * SUBPIXEL);
        if crowded.get((row - first_row) as usize) == Some(&true) {
            aet.update(&edges, top, bottom)?;
            out.clear();
            let lines = match &mut lines {
                Some(l) => l,
                None => lines.insert(Lines::of(&edges, &flats)?),
            };
            boundary_row(
                &edges,
                &aet.active,
                &flats,
                lines,
                (top, bottom),
                width as usize,
                &mut scratch,
                &mut out,
            );
            builder.push_row(row as u32, &mut out);
            if builder.failed() {
                break;
            }
            continue;
        }
        // The chain ends and starts nearest to the sweep, updated when tracks come and go.
        if first_end <= top || (next < chains.len() && chains[next].y_start < bottom) {
            tracks.retain(|t| t.y_end > top);
            while next < chains.len() && chains[next].y_start < bottom {
                let c = chains[next];
                next += 1;
                if c.y_end > top {
                    let mut t = Track::new(&c, &edges);
                    if c.y_start <= top {
                        t.seek(&edges, top);
                    }
                    tracks.push(t);
                }
            }
            first_end = tracks.iter().map(|t| t.y_end).min().unwrap_or(i64::MAX);
            last_start = tracks.iter().map(|t| t.y_start).max().unwrap_or(i64::MIN);
        }
        if tracks.is_empty() {
            continue;
        }
        out.clear();
        // Most rows: every chain crosses the whole band (vertices inside only where a chain
        // goes on), and the chains are side by side.
        let simple = last_start <= top && first_end >= bottom;
        let attempt = row >= retry_at;
        let done = if simple {
            for t in &mut tracks {
                if t.wh != top {
                    t.seek(&edges, top);
                }
                t.sweep(&edges, top, bottom);
            }
            if !attempt {
                false
            } else {
                // Sorted in place: the order carries over to the next row.
                sort_nearly_sorted(&mut tracks, |a, b| {
                    band_cmp(&a.band, &b.band, &edges, top, bottom)
                });
                if emit_bands(&tracks, |t| &t.band, &edges, top, bottom, &mut out) {
                    builder.skip_to(row as u32);
                    // Left ends come in order: `lo` never decreases along accepted chains.
                    builder.push_sorted(&out);
                    backoff = 1;
                    continue;
                }
                false
            }
        } else {
            chain_sub_bands(
                &mut tracks,
                &edges,
                (top, bottom),
                attempt,
                &mut cuts,
                &mut bands,
                &mut out,
            )
        };
        if done {
            backoff = 1;
        } else if attempt {
            // Rows where chains cross come in runs: try again later, later and later.
            retry_at = row + backoff;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        if !done {
            // Chains that cross, or are too close to tell apart: the boundary sweep.
            out.clear();
            band.clear();
            for t in &tracks {
                band.extend((t.band_first..t.end).take_while(|&i| edges[i].y0 < bottom));
            }
            let lines = match &mut lines {
                Some(l) => l,
                None => lines.insert(Lines::of(&edges, &flats)?),
            };
            boundary_row(
                &edges,
                &band,
                &flats,
                lines,
                (top, bottom),
                width as usize,
                &mut scratch,
                &mut out,
            );
        }
        builder.push_row(row as u32, &mut out);
        if builder.failed() {
            break; // out of memory: finish() says so
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Polygon;

    fn cover(points: &[(f64, f64)], w: u32, h: u32) -> Vec<String> {
        let spans = rasterize(
            &Polygon::new(points.to_vec())
                .unwrap()
                .to_fixed(w, h)
                .unwrap(),
            w,
            h,
        )
        .unwrap();
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
    fn one_by_one_frame() {
        assert_eq!(cover(&[(0.4, 0.4), (0.6, 0.4), (0.5, 0.6)], 1, 1), ["#"]);
        assert_eq!(cover(&[(1.0, 0.0), (2.0, 0.0), (2.0, 1.0)], 1, 1), ["."]);
    }

    #[test]
    fn chroma_subsampling_covers_any_cosited_pixel() {
        let poly = Polygon::new(vec![(0.0, 0.0), (0.4, 0.0), (0.4, 0.2), (0.0, 0.2)]).unwrap();
        // 5x5 luma: columns 0..2, row 0 covered. Chroma 3x3: columns 0..1, row 0.
        let luma = rasterize(&poly.to_fixed(5, 5).unwrap(), 5, 5).unwrap();
        let chroma = luma.subsample(2, 2).unwrap();
        assert_eq!((chroma.width(), chroma.height()), (3, 3));
        assert_eq!(chroma.row(0), &[(0, 1)]);
        assert!(chroma.row(1).is_empty());
        let shifted = Polygon::new(vec![(0.2, 0.2), (0.6, 0.2), (0.6, 0.4), (0.2, 0.4)]).unwrap();
        let c = rasterize(&shifted.to_fixed(5, 5).unwrap(), 5, 5)
            .unwrap()
            .subsample(2, 2)
            .unwrap();
        // luma columns 1..3, row 1 -> chroma columns 0..2, row 0.
        assert_eq!(c.row(0), &[(0, 2)]);
    }

    /// SplitMix64: a small deterministic generator for the randomised comparison below.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + self.below((hi - lo + 1) as u64) as i64
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A random polygon for a `w` x `h` plane, in 1/256 px, built to make ties likely: vertices
    /// snapped to a coarse grid (often pixel boundaries), repeated and collinear vertices,
    /// self-intersections, slivers, doubled and cancelling outlines, and jagged stars.
    fn random_polygon(rng: &mut Rng, w: u32, h: u32) -> Vec<(i64, i64)> {
        let (pw, ph) = (i64::from(w) * SUBPIXEL, i64::from(h) * SUBPIXEL);
        let grid = [1, 8, 64, 128, 256, 256, 512][rng.below(7) as usize];
        let snap = |v: i64| v.div_euclid(grid) * grid;
        let point = |rng: &mut Rng| {
            (
                snap(rng.range(-pw / 4, pw + pw / 4)),
                snap(rng.range(-ph / 4, ph + ph / 4)),
            )
        };
        match rng.below(12) {
            // Random vertices, with repeats and collinear ones.
            0..=2 => {
                let n = rng.range(3, 12) as usize;
                let mut pts: Vec<(i64, i64)> = Vec::with_capacity(n);
                while pts.len() < n {
                    let k = pts.len();
                    let p = if k > 0 && rng.chance(20) {
                        pts[rng.below(k as u64) as usize]
                    } else if k > 1 && rng.chance(20) {
                        let (a, b) = (pts[k - 2], pts[k - 1]);
                        let t = rng.range(-1, 2);
                        (b.0 + t * (b.0 - a.0), b.1 + t * (b.1 - a.1))
                    } else {
                        point(rng)
                    };
                    pts.push(p);
                }
                pts
            }
            // Jagged stars, snapped.
            3 | 4 => {
                let n = rng.range(3, 48);
                let (cx, cy) = (rng.unit() * pw as f64, rng.unit() * ph as f64);
                let (rx, ry) = (
                    (0.1 + rng.unit()) * pw as f64 / 2.0,
                    (0.1 + rng.unit()) * ph as f64 / 2.0,
                );
                let jag = rng.unit();
                (0..n)
                    .map(|i| {
                        let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                        let r = 1.0 - jag * rng.unit();
                        (
                            snap((cx + rx * r * a.cos()) as i64),
                            snap((cy + ry * r * a.sin()) as i64),
                        )
                    })
                    .collect()
            }
            // Slivers: a thin triangle or quad, one vertex nudged by a few units.
            5 => {
                let (a, b) = (point(rng), point(rng));
                let d = (rng.range(-3, 3), rng.range(-3, 3));
                let mut pts = vec![a, b, (b.0 + d.0, b.1 + d.1)];
                if rng.chance(50) {
                    pts.push((a.0 + d.0, a.1 + d.1));
                }
                pts
            }
            // Outlines traced twice, or out and back (cancelling), or with a slit.
            6 => {
                let n = rng.range(3, 6) as usize;
                let base: Vec<(i64, i64)> = (0..n).map(|_| point(rng)).collect();
                let mut pts = base.clone();
                match rng.below(3) {
                    0 => pts.extend(base.iter().copied()),
                    1 => pts.extend(base.iter().rev().copied()),
                    _ => {
                        let q = point(rng);
                        pts.push(base[0]);
                        pts.push(q);
                        pts.push(base[0]);
                    }
                }
                pts
            }
            // Staircases: runs of slanted and horizontal steps on a half-pixel grid, so that
            // chains jump sideways at heights inside a band, often where another chain turns.
            8..=10 => {
                let sx = SUBPIXEL / [1, 2, 4][rng.below(3) as usize];
                let sy = SUBPIXEL / [2, 2, 4][rng.below(3) as usize];
                let mut p = (
                    rng.range(0, i64::from(w)) * SUBPIXEL,
                    rng.range(0, i64::from(h)) * SUBPIXEL,
                );
                let mut pts = vec![p];
                for _ in 0..rng.range(2, 16) {
                    let (dx, dy) = if rng.chance(40) {
                        (rng.range(-4, 4), 0)
                    } else {
                        (rng.range(-2, 2), rng.range(-3, 3))
                    };
                    let q = (p.0 + dx * sx, p.1 + dy * sy);
                    pts.push(q);
                    if rng.chance(25) {
                        pts.push(p); // out and back: two coincident edges
                    } else {
                        p = q;
                    }
                }
                pts
            }
            // Axis-aligned rectangles on pixel boundaries joined into one outline.
            _ => {
                let mut pts = Vec::new();
                for _ in 0..rng.range(1, 3) {
                    let (x0, y0) = (
                        rng.range(-1, i64::from(w)) * SUBPIXEL,
                        rng.range(-1, i64::from(h)) * SUBPIXEL,
                    );
                    let (x1, y1) = (
                        x0 + rng.range(0, 3) * SUBPIXEL,
                        y0 + rng.range(0, 3) * SUBPIXEL,
                    );
                    let mut rect = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
                    if rng.chance(50) {
                        rect.reverse();
                    }
                    pts.extend(rect);
                }
                pts
            }
        }
    }

    /// The boundary sweep alone, on every row.
    fn rasterize_boundary(poly: &FixedPolygon, width: u32, height: u32) -> Spans {
        let (edges, _, flats) = chains_of(poly).unwrap();
        let lines = Lines::of(&edges, &flats).unwrap();
        let mut builder = SpansBuilder::new(width, height);
        let (first_row, last_row) = row_range(&edges, height);
        let (mut scratch, mut out) = (BoundaryScratch::default(), Vec::new());
        for row in first_row..last_row {
            let (top, bottom) = (row * SUBPIXEL, (row + 1) * SUBPIXEL);
            let band: Vec<usize> = (0..edges.len())
                .filter(|&i| edges[i].y0 < bottom && edges[i].y1 > top)
                .collect();
            out.clear();
            boundary_row(
                &edges,
                &band,
                &flats,
                &lines,
                (top, bottom),
                width as usize,
                &mut scratch,
                &mut out,
            );
            builder.push_row(row as u32, &mut out);
        }
        builder.finish().unwrap()
    }

    fn assert_same(poly: &FixedPolygon, w: u32, h: u32) {
        let want = rasterize_reference(poly, w, h);
        for (what, got) in [
            ("rasterize", rasterize(poly, w, h).unwrap()),
            ("boundary sweep", rasterize_boundary(poly, w, h)),
        ] {
            for y in 0..h {
                assert_eq!(
                    got.row(y),
                    want.row(y),
                    "{what}: row {y} of {w}x{h}, polygon {:?}",
                    poly.points
                );
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn fast_paths_equal_the_reference_sweep_on_random_polygons() {
        let mut rng = Rng(0x5EED_0FF1_A7A7);
        for _ in 0..100_000 {
            let (w, h) = if rng.chance(90) {
                (rng.range(1, 13) as u32, rng.range(1, 13) as u32)
            } else {
                (rng.range(1, 70) as u32, rng.range(1, 70) as u32)
            };
            let points = random_polygon(&mut rng, w, h);
            assert_same(&FixedPolygon { points }, w, h);
        }
        // Degenerate outlines: a point, flat and upright lines, zero-area out-and-back paths.
        let degenerate: [&[(i64, i64)]; 5] = [
            &[(300, 300)],
            &[(0, 256), (1000, 256), (500, 256)],
            &[(512, 0), (512, 2000), (512, 700)],
            &[(100, 100), (900, 1500), (100, 100), (900, 1500)],
            &[],
        ];
        for points in degenerate {
            assert_same(
                &FixedPolygon {
                    points: points.to_vec(),
                },
                5,
                8,
            );
        }
        // Extreme coordinates: the bounds the module documents.
        let m = (1 << 23) - 1;
        for _ in 0..200 {
            let n = rng.range(3, 8) as usize;
            let points = (0..n)
                .map(|_| (rng.range(-m, m), rng.range(-m, m)))
                .collect();
            assert_same(&FixedPolygon { points }, 9, 7);
        }
    }

    #[test]
    fn fast_paths_equal_the_reference_sweep_on_jagged_stars() {
        let mut rng = Rng(0xBE7C);
        for k in 0..60 {
            let (w, h) = ([97, 160, 64, 31][k % 4], [61, 90, 64, 47][k % 4]);
            let n = [64, 16, 7, 33][k / 4 % 4];
            let (cx, cy) = (0.2 + 0.6 * rng.unit(), 0.2 + 0.6 * rng.unit());
            let points: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let a = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                    let r = 0.4 * (0.7 + 0.3 * rng.unit());
                    (cx + r * a.cos(), cy + r * a.sin())
                })
                .collect();
            let poly = Polygon::new(points).unwrap().to_fixed(w, h).unwrap();
            assert_same(&poly, w, h);
        }
    }

    #[test]
    fn crowded_rows_equal_the_reference_sweep() {
        // More than MAX_CHAINS chains across some rows: those rows take the boundary sweep over
        // the active edge list, the others the chain sweep, which must pick up its tracks again.
        let mut rng = Rng(0xC20D);
        for k in 0..120 {
            let (w, h) = ([40, 23, 64, 9][k % 4], [30, 41, 17, 60][k % 4]);
            let (pw, ph) = (i64::from(w) * SUBPIXEL, i64::from(h) * SUBPIXEL);
            let points: Vec<(i64, i64)> = match k % 4 {
                // Random vertices: self-intersecting everywhere.
                0 => (0..rng.range(30, 80))
                    .map(|_| {
                        (
                            rng.range(-pw / 8, pw + pw / 8),
                            rng.range(-ph / 8, ph + ph / 8),
                        )
                    })
                    .collect(),
                // A comb: teeth down from a spine, crowded in the rows of the teeth only.
                1 | 2 => {
                    let teeth = rng.range(8, 40);
                    let (y0, y1) = (rng.range(0, ph / 3), rng.range(ph / 2, ph));
                    let mut pts = vec![(0, 0), (pw, 0), (pw, y0)];
                    for t in (0..teeth).rev() {
                        let x = pw * t / teeth;
                        let tip = y1 - rng.range(0, ph / 4) / 64 * 64;
                        pts.push((x + pw / teeth / 2, y0));
                        pts.push((x + rng.range(0, pw / teeth / 2), tip));
                        pts.push((x, y0));
                    }
                    if k % 4 == 2 {
                        pts.reverse(); // and as holes of opposite winding under a square
                        pts.extend([(0, 0), (0, ph), (pw, ph), (pw, 0), (0, 0)]);
                    }
                    pts
                }
                // A star with many points, crossing itself near the centre.
                _ => {
                    let n = rng.range(31, 101) | 1;
                    let step = n / 2;
                    (0..n)
                        .map(|i| {
                            let a = 2.0 * std::f64::consts::PI * (i * step % n) as f64 / n as f64;
                            (
                                (pw as f64 * (0.5 + 0.45 * a.cos())) as i64,
                                (ph as f64 * (0.5 + 0.45 * a.sin())) as i64,
                            )
                        })
                        .collect()
                }
            };
            assert_same(&FixedPolygon { points }, w, h);
        }
    }
}
