//! Polygons in normalised image coordinates, and their form in pixels.
//!
//! **What is covered.** A pixel is covered iff its open square meets the interior (nonzero rule)
//! of the polygon *with the vertices exactly as given*, the `f64` values mapped to `(x·W, y·H)`
//! with no rounding — or lies next to the polygon's boundary: privmask may add pixels whose
//! square comes within 1/256 px of an edge, never leave one out. In short, any internal
//! rounding only grows the cover, by at most the pixels the boundary passes within 1/256 px of.
//!
//! **How.** The rasteriser ([`crate::raster`]) is exact in integers on a 1/256 px grid, so each
//! vertex is snapped to the nearest grid point (`floor(v·256 + 0.5)` of the product `v = x·W` in
//! IEEE arithmetic, as before). A snapped polygon can cover less than the exact one (a sliver
//! of the exact polygon in a pixel the snapped one misses), so [`Polygon::cover`] adds back, for
//! every edge with an end that moved, the pixels whose open square meets the convex hull of the
//! edge's two ends before and after snapping: moving each vertex straight from where it was
//! snapped to where it is changes winding numbers only at points some edge sweeps over, and an
//! edge sweeps only over that hull, so every pixel the exact polygon covers is covered by the
//! snapped one or meets one of those hulls with positive area. Exact positions are known to
//! 1/16384 px (`FINE`): the product `x·W` is `p + e` exactly (`e` from a fused multiply-add), so
//! each vertex lies in a box of whole 1/16384 px whose corners replace it in the hull — a point
//! when it is on that grid, so a vertex already on a pixel line (`0.25` of 1920 px) adds nothing,
//! and one a hair inside of it (`0.1` of 100 px is 10.000000000000000555 px) adds nothing across
//! it either. Edges whose ends are both exactly on the 1/256 px grid need no hull at all.
//!
//! **Huge coordinates.** Vertices may lie anywhere a finite `f64` can (`±1.8e308`). A polygon
//! reaching further than [`GUARD_PX`] outside the frame is first *clamped* to a guard box in
//! normalised coordinates: each edge is cut where it crosses the box's four lines (in an exact
//! order, from exact orientation tests, [`crate::exact`]) and every piece is mapped to the
//! nearest point of the box. That is a homotopy which never crosses the box's inside, so every
//! winding number inside the box, the frame included, is kept. Pieces outside map to the box's
//! corners and sides exactly; where an edge enters the box, the crossing is computed with a
//! rigorous error bound, and the bound (however wide, for absurd inputs) becomes that vertex's
//! box above: the cover can only grow. Nothing overflows: clamping comes before scaling.
//!
//! A polygon has at most [`MAX_VERTICES`] vertices, which bounds the time to rasterise it (near
//! linear in edges x rows, see [`crate::raster`]).

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::exact::orient;
use crate::raster::rasterize;
use crate::spans::{reserve, Spans};

/// Sub-pixel resolution of the snapped geometry: 1/256 of a pixel.
pub const SUBPIXEL: i64 = 256;

/// Resolution of the known position of a vertex (in the boxes of the module doc): 1/16384 px.
pub const FINE: i64 = 1 << 14;

/// How far outside the frame (in pixels) vertices may lie before the polygon is clamped.
pub const GUARD_PX: f64 = 8192.0;

/// Most vertices a polygon may have.
pub const MAX_VERTICES: usize = 10_000;

/// A polygon in normalised image coordinates; `(0, 0)` is the top-left corner of the frame and
/// `(1, 1)` the bottom-right one. Vertices outside `[0, 1]` are allowed; the fill rule is nonzero.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    points: Vec<(f64, f64)>,
}

impl Polygon {
    /// Validates and wraps the vertices: at most [`MAX_VERTICES`], all finite, at least three
    /// distinct, not all collinear.
    pub fn new(points: Vec<(f64, f64)>) -> Result<Self> {
        if points.len() > MAX_VERTICES {
            return Err(Error::InvalidGeometry(too_many(points.len())));
        }
        if let Some((i, p)) = points
            .iter()
            .enumerate()
            .find(|(_, p)| !(p.0.is_finite() && p.1.is_finite()))
        {
            return Err(Error::InvalidGeometry(format!(
                "vertex {i} is {p:?}; coordinates must be finite numbers (no NaN or infinity)"
            )));
        }
        let mut distinct: Vec<(f64, f64)> = Vec::new();
        for &p in &points {
            if !distinct.contains(&p) {
                distinct.push(p);
                if distinct.len() == 3 {
                    break;
                }
            }
        }
        if distinct.len() < 3 {
            return Err(Error::InvalidGeometry(format!(
                "a polygon needs at least 3 distinct vertices, got {}",
                distinct.len()
            )));
        }
        if all_collinear(&points) {
            return Err(Error::InvalidGeometry(
                "the polygon has zero area: all its vertices lie on one line".to_string(),
            ));
        }
        Ok(Polygon { points })
    }

    /// The vertices as given.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The pixels of a `width` x `height` frame the polygon covers (see the module doc).
    pub fn cover(&self, width: u32, height: u32) -> Result<Spans> {
        let outline = self.outline(width, height)?;
        let snapped = rasterize(&outline.fixed, width, height)?;
        outline.grow(snapped)
    }

    /// The polygon in pixel space for a `width` x `height` frame, snapped to 1/256 px.
    pub fn to_fixed(&self, width: u32, height: u32) -> Result<FixedPolygon> {
        Ok(self.outline(width, height)?.fixed)
    }

    /// The polygon in pixel space: snapped, and where each vertex really is.
    pub fn outline(&self, width: u32, height: u32) -> Result<Outline> {
        let (w, h) = (f64::from(width), f64::from(height));
        // At least GUARD_PX out, in whole 1/256 of the frame: the box's lines fall on the pixel
        // grid, so its corners and sides need no growing.
        let margin = |size: f64| (GUARD_PX / size * SUBPIXEL as f64).ceil() / SUBPIXEL as f64;
        let guard = GuardBox {
            lx: -margin(w),
            hx: 1.0 + margin(w),
            ly: -margin(h),
            hy: 1.0 + margin(h),
            w,
            h,
        };
        let mut vertices: Vec<(Coord, Coord)> = Vec::new();
        if self.points.iter().all(|&p| guard.contains(p)) {
            reserve(&mut vertices, self.points.len())?;
            vertices.extend(
                self.points
                    .iter()
                    .map(|&(x, y)| (Coord::Exact(x), Coord::Exact(y))),
            );
        } else {
            reserve(&mut vertices, self.points.len() * 2)?;
            let n = self.points.len();
            for i in 0..n {
                guard.clamp_edge(self.points[i], self.points[(i + 1) % n], &mut vertices)?;
            }
        }
        let mut fixed = Vec::new();
        let mut boxes = Vec::new();
        reserve(&mut fixed, vertices.len())?;
        reserve(&mut boxes, vertices.len())?;
        for (x, y) in vertices {
            let (sx, bx) = x.to_pixels(w);
            let (sy, by) = y.to_pixels(h);
            fixed.push((sx, sy));
            let bits = |c: Coord| match c {
                Coord::Exact(v) => Some((v + 0.0).to_bits()), // -0.0 is 0.0
                Coord::Pixels { .. } => None,
            };
            boxes.push(FineBox {
                x: bx,
                y: by,
                exact: bx == (sx * (FINE / SUBPIXEL), sx * (FINE / SUBPIXEL))
                    && by == (sy * (FINE / SUBPIXEL), sy * (FINE / SUBPIXEL)),
                id: bits(x).zip(bits(y)),
            });
        }
        Ok(Outline {
            fixed: FixedPolygon { points: fixed },
            boxes,
            width,
            height,
        })
    }
}

/// One coordinate of a vertex of the clamped polygon: a normalised value as given, or (where an
/// edge enters the guard box) one already in pixels: snapped, and between `lo` and `hi` in
/// 1/16384 px.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Coord {
    Exact(f64),
    Pixels { snap: i64, lo: i64, hi: i64 },
}

impl Coord {
    /// The coordinate times `scale` (a frame size): snapped to 1/256 px, and the least and
    /// greatest whole 1/16384 px around the exact value (equal when it is one).
    fn to_pixels(self, scale: f64) -> (i64, (i64, i64)) {
        let snap = |v: f64| (v * SUBPIXEL as f64 + 0.5).floor() as i64;
        match self {
            Coord::Exact(v) => (snap(v * scale), fine_bounds(v, scale)),
            Coord::Pixels { snap, lo, hi } => (snap, (lo, hi)),
        }
    }
}

/// `floor` and `ceil` of `v · scale · FINE`, exactly (`|v · scale| < 2^30`).
fn fine_bounds(v: f64, scale: f64) -> (i64, i64) {
    let p = v * scale;
    let e = v.mul_add(scale, -p); // v · scale = p + e exactly
    let q = p * FINE as f64; // exact: a power of two
    let f = q.floor();
    if q != f {
        // |e · FINE| is under half an ulp of q, and q is at least an ulp from any integer.
        (f as i64, f as i64 + 1)
    } else {
        let f = f as i64;
        (f - i64::from(e < 0.0), f + i64::from(e > 0.0))
    }
}

/// The guard box in normalised coordinates, and the frame size.
struct GuardBox {
    lx: f64,
    hx: f64,
    ly: f64,
    hy: f64,
    w: f64,
    h: f64,
}

/// Where an edge crosses a line of the guard box: `x = v` (`vertical`) or `y = v`.
#[derive(Clone, Copy, Debug)]
struct Crossing {
    vertical: bool,
    v: f64,
}

impl GuardBox {
    fn contains(&self, p: (f64, f64)) -> bool {
        self.lx <= p.0 && p.0 <= self.hx && self.ly <= p.1 && p.1 <= self.hy
    }

    /// Pushes the clamped image of the edge `u -> v` without its end `v`: `u` clamped, then the
    /// clamped points where the edge crosses the box's lines, in order along the edge.
    fn clamp_edge(
        &self,
        u: (f64, f64),
        v: (f64, f64),
        out: &mut Vec<(Coord, Coord)>,
    ) -> Result<()> {
        let clamp = |p: (f64, f64)| {
            (
                Coord::Exact(p.0.clamp(self.lx, self.hx)),
                Coord::Exact(p.1.clamp(self.ly, self.hy)),
            )
        };
        push_distinct(out, clamp(u))?;
        let strictly_between = |a: f64, b: f64, c: f64| (a < c && c < b) || (b < c && c < a);
        let mut crossings: Vec<Crossing> = Vec::with_capacity(4);
        for x in [self.lx, self.hx] {
            if strictly_between(u.0, v.0, x) {
                crossings.push(Crossing {
                    vertical: true,
                    v: x,
                });
            }
        }
        for y in [self.ly, self.hy] {
            if strictly_between(u.1, v.1, y) {
                crossings.push(Crossing {
                    vertical: false,
                    v: y,
                });
            }
        }
        if crossings.is_empty() {
            return Ok(());
        }
        let (dx, dy) = (sign(v.0 - u.0, u.0, v.0), sign(v.1 - u.1, u.1, v.1));
        // Which side of the edge's line a corner of the box lies: decides both the order of an
        // x- and a y-crossing and where each crossing lies along the other axis.
        let side = |x: f64, y: f64| orient(u, v, (x, y));
        // Along the edge, t(x-crossing at x) < t(y-crossing at y) iff sign(orient) dx dy > 0.
        let before = |a: &Crossing, b: &Crossing| -> bool {
            match (a.vertical, b.vertical) {
                (true, true) => (a.v < b.v) == (dx == Ordering::Greater),
                (false, false) => (a.v < b.v) == (dy == Ordering::Greater),
                (true, false) => turn(side(a.v, b.v), dx, dy) == Ordering::Greater,
                (false, true) => turn(side(b.v, a.v), dx, dy) == Ordering::Less,
            }
        };
        for i in 1..crossings.len() {
            let mut j = i;
            while j > 0 && before(&crossings[j], &crossings[j - 1]) {
                crossings.swap(j, j - 1);
                j -= 1;
            }
        }
        for c in crossings {
            let p = if c.vertical {
                // y at the crossing vs the box's top and bottom: sign(y - c) = -orient·dx.
                let above = neg(mul(side(c.v, self.ly), dx)); // sign of y - ly
                let below = neg(mul(side(c.v, self.hy), dx)); // sign of y - hy
                let y = if above != Ordering::Greater {
                    Coord::Exact(self.ly)
                } else if below != Ordering::Less {
                    Coord::Exact(self.hy)
                } else {
                    crossing_coord((u.0, u.1), (v.0, v.1), c.v, (self.ly, self.hy), self.h)
                };
                (Coord::Exact(c.v), y)
            } else {
                // x at the crossing: sign(x - b) = orient·dy.
                let left = mul(side(self.lx, c.v), dy); // sign of x - lx
                let right = mul(side(self.hx, c.v), dy); // sign of x - hx
                let x = if left != Ordering::Greater {
                    Coord::Exact(self.lx)
                } else if right != Ordering::Less {
                    Coord::Exact(self.hx)
                } else {
                    crossing_coord((u.1, u.0), (v.1, v.0), c.v, (self.lx, self.hx), self.w)
                };
                (x, Coord::Exact(c.v))
            };
            push_distinct(out, p)?;
        }
        Ok(())
    }
}

/// Pushes `p` unless it repeats the last point.
fn push_distinct(out: &mut Vec<(Coord, Coord)>, p: (Coord, Coord)) -> Result<()> {
    if out.last() != Some(&p) {
        if out.len() == out.capacity() {
            let more = out.len().max(4);
            reserve(out, more)?;
        }
        out.push(p);
    }
    Ok(())
}

/// The sign of `b - a` (`d`, possibly overflowed to infinity, or rounded: only its sign is used,
/// and it is exact: the difference of two floats rounds to zero only when they are equal).
fn sign(d: f64, a: f64, b: f64) -> Ordering {
    debug_assert!(d.is_nan() || (d > 0.0) == (b > a));
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

fn neg(o: Ordering) -> Ordering {
    o.reverse()
}

fn mul(a: Ordering, b: Ordering) -> Ordering {
    match (a, b) {
        (Ordering::Equal, _) | (_, Ordering::Equal) => Ordering::Equal,
        (x, y) if x == y => Ordering::Greater,
        _ => Ordering::Less,
    }
}

/// `sign(orient) · dx · dy`.
fn turn(o: Ordering, dx: Ordering, dy: Ordering) -> Ordering {
    mul(mul(o, dx), dy)
}

/// The second coordinate where the segment `u -> v` (first coordinate first) crosses the line
/// `first = at`, known to lie strictly inside `(lo, hi)`, in pixels (times `scale`): snapped,
/// and whole 1/16384 px around the exact value. From floats with a rigorous error bound, or,
/// when that bound is wider than 1/16384 px (coordinates in the 1e16s and beyond), exactly.
fn crossing_coord(
    u: (f64, f64),
    v: (f64, f64),
    at: f64,
    (lo, hi): (f64, f64),
    scale: f64,
) -> Coord {
    // Scaled by a power of two so that no difference overflows (exact but for values so small
    // that the absolute slack below covers them).
    let big = [u.0, u.1, v.0, v.1, at]
        .iter()
        .fold(0.0_f64, |m, x| m.max(x.abs()));
    let k = if big > 1e300 { 2f64.powi(-64) } else { 1.0 };
    let (u0, u1, v0, v1, b) = (u.0 * k, u.1 * k, v.0 * k, v.1 * k, at * k);
    let t = (b - u0) / (v0 - u0);
    let mid = u1 + t * (v1 - u1);
    // Each of the five operations rounds once (relative 2^-53), t lies in [0, 1]: the error is
    // under 12.2 · 2^-53 · (|u1| + |v1|); the bound takes three times that, plus room for
    // underflow.
    let err = 4e-15 * (u1.abs() + v1.abs()) + 1e-300;
    let (mid, err) = (mid / k, err / k);
    let down = |x: f64| next_toward(x, f64::NEG_INFINITY).max(lo);
    let up = |x: f64| next_toward(x, f64::INFINITY).min(hi);
    let (a, b) = (down(mid - err), up(mid + err));
    let (fa, fb) = (fine_bounds(a, scale).0, fine_bounds(b, scale).1);
    let per = FINE / SUBPIXEL;
    if fb - fa == 1 {
        // Strictly between two neighbouring grid points: as tight as the grid allows.
        return Coord::Pixels {
            snap: (fa + per / 2).div_euclid(per),
            lo: fa,
            hi: fb,
        };
    }
    let (f, exact) = crate::exact::crossing_floor(u, v, at, scale as i64 * FINE, (fa, fb));
    Coord::Pixels {
        snap: (f + per / 2).div_euclid(per),
        lo: f,
        hi: f + i64::from(!exact),
    }
}

/// The float next to `x` (finite) toward `to`.
fn next_toward(x: f64, to: f64) -> f64 {
    if x == 0.0 {
        return if to > 0.0 {
            f64::from_bits(1)
        } else {
            -f64::from_bits(1)
        };
    }
    let bits = x.to_bits();
    f64::from_bits(if (to > x) == (x > 0.0) {
        bits + 1
    } else {
        bits - 1
    })
}

/// A vertex's exact position in 1/16384 px: `x` and `y` each lie in `[lo, hi]`; `exact` when
/// that is a single point of the 1/256 px grid, the snapped vertex itself. `id`: the vertex as
/// given (its coordinates' bits), when it is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FineBox {
    x: (i64, i64),
    y: (i64, i64),
    exact: bool,
    id: Option<(u64, u64)>,
}

/// A polygon in pixel space: snapped to 1/256 px for the rasteriser, with boxes (1/16384 px)
/// that hold where its vertices really are.
#[derive(Clone, Debug)]
pub struct Outline {
    /// The snapped polygon.
    pub fixed: FixedPolygon,
    boxes: Vec<FineBox>,
    width: u32,
    height: u32,
}

impl Outline {
    /// For each edge, whether it needs no hull because edges between the same two given
    /// vertices, there and back, cancel it (a bridge to a hole, a slit): moving their ends
    /// moves them together, and their windings keep cancelling all the way. Of edges that do not
    /// cancel, one per pair of vertices is kept (their hulls are the same).
    fn cancelled_edges(&self) -> Result<Vec<bool>> {
        let n = self.boxes.len();
        // (first vertex, second vertex, +1 or -1 for the edge's way between them, edge)
        type Key = ((u64, u64), (u64, u64), i32, usize);
        let mut keys: Vec<Key> = Vec::new();
        reserve(&mut keys, n)?;
        for i in 0..n {
            let (a, b) = (self.boxes[i].id, self.boxes[(i + 1) % n].id);
            if let (Some(a), Some(b)) = (a, b) {
                keys.push(if a <= b { (a, b, 1, i) } else { (b, a, -1, i) });
            }
        }
        keys.sort_unstable();
        let mut out = Vec::new();
        reserve(&mut out, n)?;
        out.resize(n, false);
        for group in keys.chunk_by(|p, q| (p.0, p.1) == (q.0, q.1)) {
            let net: i32 = group.iter().map(|k| k.2).sum();
            for (k, e) in group.iter().enumerate() {
                out[e.3] = net == 0 || k > 0;
            }
        }
        Ok(out)
    }

    /// Whether every vertex lies exactly on the 1/256 px grid (then the snapped polygon is the
    /// polygon and [`Outline::grow`] adds nothing).
    pub fn is_exact(&self) -> bool {
        self.boxes.iter().all(|b| b.exact)
    }

    /// `snapped` (the snapped polygon's cover) with the pixels whose open square meets the hull
    /// of an edge before and after snapping (module doc).
    pub fn grow(&self, snapped: Spans) -> Result<Spans> {
        let n = self.boxes.len();
        let alone = self.fixed.alone_on_their_lines()?;
        let cancelled = self.cancelled_edges()?;
        let mut extra: Vec<(u32, i64, i64)> = Vec::new();
        let (fw, fh) = (i64::from(self.width) * FINE, i64::from(self.height) * FINE);
        for (i, &alone) in alone.iter().enumerate() {
            let j = (i + 1) % n;
            let (a, b) = (self.boxes[i], self.boxes[j]);
            if (a.exact && b.exact) || cancelled[i] {
                continue;
            }
            let s = |k: usize| {
                let p = self.fixed.points[k];
                (p.0 * (FINE / SUBPIXEL), p.1 * (FINE / SUBPIXEL))
            };
            let corners = |f: FineBox| {
                [
                    (f.x.0, f.y.0),
                    (f.x.1, f.y.0),
                    (f.x.0, f.y.1),
                    (f.x.1, f.y.1),
                ]
            };
            let mut pts = [(0, 0); 10];
            pts[0] = s(i);
            pts[1] = s(j);
            pts[2..6].copy_from_slice(&corners(a));
            pts[6..10].copy_from_slice(&corners(b));
            let mut hull = Hull::around(pts);
            let (sa, sb) = (self.fixed.points[i], self.fixed.points[j]);
            if alone {
                hull.seg = Seg::of(sa, sb, a, b);
            }
            // Only hulls that reach into the frame can add a pixel. Then, row by row (the rows
            // whose open strip the hull meets), whatever the snapped cover lacks: rare, so that
            // the snapped cover is usually the answer as it is.
            if hull.x.1 <= 0 || hull.x.0 >= fw || hull.y.1 <= 0 || hull.y.0 >= fh {
                continue;
            }
            let rows = (
                hull.y.0.div_euclid(FINE).max(0),
                (hull.y.1 + FINE - 1)
                    .div_euclid(FINE)
                    .min(i64::from(self.height)),
            );
            for row in rows.0..rows.1 {
                let row = row as u32;
                if hull.within_its_edge(row) {
                    continue;
                }
                let (top, bottom) = (i64::from(row) * FINE, i64::from(row + 1) * FINE);
                let (a, b) = hull.columns(top, bottom);
                let (a, b) = (a.max(0), b.min(i64::from(self.width)));
                let held = snapped
                    .row(row)
                    .iter()
                    .any(|r| i64::from(r.0) <= a && b <= i64::from(r.1));
                if a < b && !held {
                    if extra.len() == extra.capacity() {
                        let more = extra.len().max(16);
                        reserve(&mut extra, more)?;
                    }
                    extra.push((row, a, b));
                }
            }
        }
        if extra.is_empty() {
            return Ok(snapped);
        }
        extra.sort_unstable();
        snapped.with_pieces(&extra)
    }
}

/// The convex hull of up to ten points in 1/16384 px (an edge's ends, snapped and not), and
/// their bounding box.
#[derive(Clone, Copy, Debug)]
struct Hull {
    pts: [(i64, i64); 10],
    /// Once built: how many of `pts` are the hull's vertices (0: no area).
    n: Option<usize>,
    x: (i64, i64),
    y: (i64, i64),
    /// The snapped edge the hull is around, when no other edge lies on its line.
    seg: Option<Seg>,
}

/// A snapped edge, for deciding cheaply in which rows its hull reaches no column the edge does
/// not pass through: its ends' heights `y` (1/256 px, top first) and abscissas `xe` (2^-32 px,
/// exact), its abscissa at the first whole row line below the top end (`row0`) and its step per
/// row (2^-32 px, each within a unit of the exact value); and `m`, how far its hull reaches
/// sideways beyond the edge within a row, plus the slack for those errors.
#[derive(Clone, Copy, Debug)]
struct Seg {
    y: (i64, i64),
    xe: (i64, i64),
    row0: i64,
    x0: i64,
    step: i64,
    m: i64,
}

/// One pixel in the fixed point of [`Seg`].
const SEG_ONE: i64 = 1 << 32;

/// Bound on the error of a [`Seg`] abscissa: a unit (and a bit) in `x0`, and as much per row in
/// the step, over at most 2^15 rows (the guard box's height).
const SEG_SLACK: i64 = 1 << 16;

impl Seg {
    fn of(sa: (i64, i64), sb: (i64, i64), a: FineBox, b: FineBox) -> Option<Seg> {
        let ((xa, ya), (xb, yb)) = if sa.1 <= sb.1 { (sa, sb) } else { (sb, sa) };
        let (dx, dy) = (i128::from(xb - xa), i128::from(yb - ya));
        // Shallow edges cross few rows: those take the exact path.
        if dx.abs() > dy << 16 && dy != 0 {
            return None;
        }
        // How far the hull reaches from the edge: the largest offset of a box corner from its
        // snapped vertex, along each axis, in 2^-32 px.
        let off = |f: FineBox, p: (i64, i64)| {
            let d = |(lo, hi): (i64, i64), v: i64| {
                let v = v * (FINE / SUBPIXEL);
                (v - lo).max(hi - v) * (SEG_ONE / FINE)
            };
            (d(f.x, p.0), d(f.y, p.1))
        };
        let (oa, ob) = (off(a, sa), off(b, sb));
        let (rx, ry) = (oa.0.max(ob.0), oa.1.max(ob.1));
        let per = SEG_ONE / SUBPIXEL; // 2^-32 px per 1/256 px
        let row0 = (ya + SUBPIXEL - 1).div_euclid(SUBPIXEL);
        let (x0, step, m) = if dy == 0 {
            // Horizontal: the hull reaches rx beyond its ends, whatever the height.
            (xa * per, 0, rx + 2 * SEG_SLACK)
        } else {
            // x at the row line row0, and per row, in 2^-32 px: |num| < 2^48 and |x0| < 2^48,
            // so one rounded division in floats is within 2^-5 of a unit (cheaper than i128).
            let floor = |v: f64| {
                let t = v as i64;
                t - i64::from((t as f64) > v)
            };
            let num = xa * dy as i64 + (row0 * SUBPIXEL - ya) * dx as i64;
            let x0 = floor(num as f64 / dy as f64 * (1u64 << 24) as f64);
            let step = floor(dx as f64 * SEG_ONE as f64 / dy as f64);
            let reach = (step.unsigned_abs() as f64 * ry as f64 / SEG_ONE as f64) as i64 + 1;
            (x0, step, reach + rx + 2 * SEG_SLACK)
        };
        Some(Seg {
            y: (ya, yb),
            xe: (xa * per, xb * per),
            row0,
            x0,
            step,
            m,
        })
    }
}

impl Hull {
    /// The hull of `pts`, built when first needed (most rows need only the bounding box).
    fn around(pts: [(i64, i64); 10]) -> Hull {
        let mut out = Hull {
            pts,
            n: None,
            x: (i64::MAX, i64::MIN),
            y: (i64::MAX, i64::MIN),
            seg: None,
        };
        for p in &pts {
            out.x = (out.x.0.min(p.0), out.x.1.max(p.0));
            out.y = (out.y.0.min(p.1), out.y.1.max(p.1));
        }
        out
    }

    /// Replaces the points by their convex hull, counter-clockwise (Andrew's monotone chain);
    /// `n` is then how many, 0 when the hull has no area.
    fn build(&mut self) -> usize {
        if let Some(n) = self.n {
            return n;
        }
        let pts = &mut self.pts;
        pts.sort_unstable();
        let cross = |o: (i64, i64), a: (i64, i64), b: (i64, i64)| {
            i128::from(a.0 - o.0) * i128::from(b.1 - o.1)
                - i128::from(a.1 - o.1) * i128::from(b.0 - o.0)
        };
        let mut hull = [(0, 0); 20];
        let mut k = 0;
        for &p in pts.iter() {
            while k >= 2 && cross(hull[k - 2], hull[k - 1], p) <= 0 {
                k -= 1;
            }
            hull[k] = p;
            k += 1;
        }
        let lower = k + 1;
        for &p in pts.iter().rev().skip(1) {
            while k >= lower && cross(hull[k - 2], hull[k - 1], p) <= 0 {
                k -= 1;
            }
            hull[k] = p;
            k += 1;
        }
        let n = if k - 1 < 3 { 0 } else { k - 1 }; // the last point repeats the first
        pts[..n].copy_from_slice(&hull[..n]);
        self.n = Some(n);
        n
    }

    /// Whether in `row` the hull reaches no column its snapped edge does not pass through (which
    /// the snapped cover holds, the edge being alone on its line): decided in floats, with a
    /// margin far above their error, only where the edge crosses the whole row; `false` when in
    /// doubt.
    fn within_its_edge(&self, row: u32) -> bool {
        let Some(s) = self.seg else {
            return false;
        };
        let row = i64::from(row);
        let (top, bottom) = (row * SUBPIXEL, (row + 1) * SUBPIXEL);
        // The edge's part in the row, from height a to b: it must have positive height (a
        // horizontal edge must lie strictly inside the row), or the edge passes through no
        // open square of the row (the hull may still poke in: the exact path decides).
        let (a, b) = if s.y.0 == s.y.1 {
            if s.y.0 <= top || s.y.0 >= bottom {
                return false;
            }
            (s.xe.0, s.xe.1)
        } else {
            if s.y.1 <= top || s.y.0 >= bottom {
                return false;
            }
            let at = |r: i64| s.x0 + (r - s.row0) * s.step; // on the line at row r's top
            (
                if s.y.0 >= top { s.xe.0 } else { at(row) },
                if s.y.1 <= bottom { s.xe.1 } else { at(row + 1) },
            )
        };
        // The part's own columns run from floor(lo) to ceil(hi) (lo, hi within SEG_SLACK), and
        // the hull reaches at most m - 2 SEG_SLACK further within the row: the same columns when
        // no pixel line lies in [lo - m + SLACK, lo + SLACK] or in [hi - SLACK, hi + m - SLACK].
        let (lo, hi) = (a.min(b), a.max(b));
        let frac = |v: i64| v & (SEG_ONE - 1);
        frac(lo + SEG_SLACK) >= s.m && frac(SEG_SLACK - hi) >= s.m
    }

    /// The pixel columns `[a, b)` whose open square, in the row `(top, bottom)` the hull's
    /// inside meets, meets it: from the floor of the least to the ceil of the greatest abscissa
    /// of the hull in the closed strip.
    fn columns(&mut self, top: i64, bottom: i64) -> (i64, i64) {
        let n = self.build();
        let (mut lo, mut hi) = (0, 0);
        if n > 0 {
            (lo, hi) = (i64::MAX, i64::MIN);
        }
        let mut take = |f: i64, c: i64| {
            lo = lo.min(f);
            hi = hi.max(c);
        };
        for i in 0..n {
            let (a, b) = (self.pts[i], self.pts[(i + 1) % n]);
            if top <= a.1 && a.1 <= bottom {
                take(a.0.div_euclid(FINE), (a.0 + FINE - 1).div_euclid(FINE));
            }
            let (dy, dx) = (b.1 - a.1, b.0 - a.0);
            for y in [top, bottom] {
                if (a.1 < y && y < b.1) || (b.1 < y && y < a.1) {
                    // x = a.x + (y - a.y) dx / dy, in pixels: |num| < 2^61.
                    let (num, den) = (a.0 * dy + (y - a.1) * dx, dy * FINE);
                    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
                    let f = num.div_euclid(den);
                    take(f, f + i64::from(num.rem_euclid(den) != 0));
                }
            }
        }
        (lo, hi)
    }
}

fn too_many(n: usize) -> String {
    format!("a polygon has at most {MAX_VERTICES} vertices, got {n}")
}

/// The line through `a` and `b` (1/256 px), the same for every pair of distinct points on it:
/// its direction in lowest terms, pointing down (or right), and its offset.
pub(crate) fn line_key(a: (i64, i64), b: (i64, i64)) -> (i64, i64, i64) {
    let (mut dx, mut dy) = (b.0 - a.0, b.1 - a.1);
    if dy < 0 || (dy == 0 && dx < 0) {
        (dx, dy) = (-dx, -dy);
    }
    // Binary gcd: a division per step would cost more than the rest of a row of work.
    let (mut u, mut v) = (dx.unsigned_abs(), dy.unsigned_abs());
    let g = if u == 0 || v == 0 {
        (u | v).max(1)
    } else {
        let shift = (u | v).trailing_zeros();
        u >>= u.trailing_zeros();
        loop {
            v >>= v.trailing_zeros();
            if u > v {
                std::mem::swap(&mut u, &mut v);
            }
            v -= u;
            if v == 0 {
                break u << shift;
            }
        }
    } as i64;
    let (dx, dy) = (dx / g, dy / g);
    (dx, dy, dy * a.0 - dx * a.1)
}

impl FixedPolygon {
    /// For each edge (from vertex `i` to the next), whether no other edge lies on its line (so
    /// that nothing can cancel it).
    fn alone_on_their_lines(&self) -> Result<Vec<bool>> {
        let pts = &self.points;
        let n = pts.len();
        let mut keys: Vec<((i64, i64, i64), usize)> = Vec::new();
        reserve(&mut keys, n)?;
        for i in 0..n {
            keys.push((line_key(pts[i], pts[(i + 1) % n]), i));
        }
        keys.sort_unstable();
        let mut alone = Vec::new();
        reserve(&mut alone, n)?;
        alone.resize(n, true);
        for group in keys.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
            for &(_, i) in group {
                alone[i] = false;
            }
        }
        Ok(alone)
    }
}

/// A polygon in pixel space, in units of 1/256 px. Coordinates stay within `±2^23` for frames up
/// to [`crate::format::MAX_DIMENSION`], which keeps the rasteriser's `i128` products in range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedPolygon {
    /// Vertices in 1/256 px units; the closing edge from the last vertex to the first is implied.
    pub points: Vec<(i64, i64)>,
}

/// Whether all vertices lie on one line, up to a relative tolerance far below any visible area.
/// Points are scaled into [-1, 1] first so that huge coordinates cannot overflow.
fn all_collinear(points: &[(f64, f64)]) -> bool {
    let m = points
        .iter()
        .map(|p| p.0.abs().max(p.1.abs()))
        .fold(1.0_f64, f64::max);
    let q: Vec<(f64, f64)> = points.iter().map(|p| (p.0 / m, p.1 / m)).collect();
    let a = q[0];
    let scale = q
        .iter()
        .map(|p| (p.0 - a.0).abs().max((p.1 - a.1).abs()))
        .fold(0.0_f64, f64::max);
    let Some(&b) = q
        .iter()
        .find(|p| (p.0 - a.0).abs().max((p.1 - a.1).abs()) == scale)
    else {
        return true;
    };
    if scale == 0.0 {
        return true;
    }
    let tol = scale * scale * 1e-14;
    q.iter()
        .all(|&p| ((b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0)).abs() <= tol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_vertices() {
        assert!(matches!(
            Polygon::new(vec![(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0)]),
            Err(Error::InvalidGeometry(_))
        ));
        assert!(matches!(
            Polygon::new(vec![(0.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
            Err(Error::InvalidGeometry(_))
        ));
        assert!(Polygon::new(vec![(-1e300, -1e300), (1e300, -1e300), (0.5, 1e300)]).is_ok());
        assert!(Polygon::new(vec![(-1e308, 0.0), (1e308, 0.0), (0.0, 1e-300)]).is_err());
        let e = Polygon::new(vec![(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]).unwrap_err();
        assert!(e.to_string().contains("zero area"), "{e}");
        assert!(Polygon::new(vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]).is_ok());
    }

    #[test]
    fn snaps_to_subpixels() {
        let p = Polygon::new(vec![(0.0, 0.0), (0.5, 0.0), (0.25, 1.0)]).unwrap();
        assert_eq!(
            p.to_fixed(10, 4).unwrap().points,
            vec![(0, 0), (1280, 0), (640, 1024)]
        );
    }

    #[test]
    fn clamps_huge_coordinates_into_the_guard_box() {
        let p = Polygon::new(vec![(-1e12, -1e12), (1e12, -1e12), (0.5, 1e12)]).unwrap();
        let f = p.to_fixed(100, 100).unwrap();
        let bound = ((101.0 + GUARD_PX) * SUBPIXEL as f64) as i64;
        assert!(
            f.points
                .iter()
                .all(|&(x, y)| x.abs() <= bound && y.abs() <= bound),
            "{f:?}"
        );
        assert!(f.points.len() >= 3);
    }

    fn grid(spans: &Spans) -> Vec<String> {
        (0..spans.height())
            .map(|y| {
                (0..spans.width())
                    .map(|x| if spans.contains(x, y) { '#' } else { '.' })
                    .collect()
            })
            .collect()
    }

    fn count(points: &[(f64, f64)], w: u32, h: u32) -> u64 {
        Polygon::new(points.to_vec())
            .unwrap()
            .cover(w, h)
            .unwrap()
            .count()
    }

    #[test]
    fn a_huge_square_covers_every_pixel_at_any_size() {
        for m in [1e3, 1e12, 1e100, 1e305, f64::MAX] {
            let sq = [(-m, -m), (m, -m), (m, m), (-m, m)];
            for (w, h) in [
                (640, 360),
                (1920, 1080),
                (3840, 2160),
                (16384, 16384),
                (1, 1),
            ] {
                assert_eq!(count(&sq, w, h), u64::from(w) * u64::from(h), "{m} {w}x{h}");
            }
        }
    }

    #[test]
    fn huge_edges_through_the_frame_are_placed_exactly() {
        // The half-plane y >= x, as a triangle with two vertices far away in either direction:
        // a pixel (i, j) of a square frame meets it iff j >= i, however far the vertices are.
        for m in [3.0, 1e6, 1e12, 1e17, 1e100, 1e305, f64::MAX / 2.0] {
            for tri in [
                vec![(-m, -m), (m, m), (-m, m)],
                vec![(m, m), (-m, m), (-m, -m)],
                vec![(-m, m), (-m, -m), (m, m)],
            ] {
                let cover = Polygon::new(tri).unwrap().cover(7, 7).unwrap();
                for j in 0..7 {
                    for i in 0..7 {
                        assert_eq!(cover.contains(i, j), j >= i, "{m}: ({i}, {j})");
                    }
                }
            }
        }
        // A near-horizontal edge from far left to far right crossing the frame at mid-height:
        // y = 0.5 exactly at x = 0.5, with a slope of 1e-300.
        let m = 1e300;
        let thin = [(-m, 0.5 - 0.5), (m, 1.5), (m, 1e300), (-m, 1e300)];
        let got = grid(&Polygon::new(thin.to_vec()).unwrap().cover(4, 4).unwrap());
        assert_eq!(got, ["....", "....", "####", "####"]);
    }

    #[test]
    fn decimal_edges_on_pixel_lines_stay_put_and_slivers_over_them_are_covered() {
        // 0.1 of 100 px is 10.000000000000000555 px and 0.3 of 100 px 29.999999999999998889 px:
        // both inside the pixel lines, so exactly 20 x 20 pixels; 0.1 + 0.2 is
        // 0.30000000000000004, a sliver past the line at 30 px, which takes column 30 too.
        let rect = |x0: f64, x1: f64| [(x0, 0.1), (x1, 0.1), (x1, 0.3), (x0, 0.3)];
        assert_eq!(count(&rect(0.1, 0.3), 100, 100), 400);
        assert_eq!(count(&rect(0.1, 0.1 + 0.2), 100, 100), 420);
        // A snapped vertex that moves inward: 1/3 of 3 px is 0.99999999999999994 px; the sliver
        // of pixel 0 left of it is covered, though snapping puts the edge on the line.
        let third = 1.0 / 3.0;
        let got = grid(
            &Polygon::new(vec![(third, 0.0), (1.0, 0.0), (1.0, 1.0), (third, 1.0)])
                .unwrap()
                .cover(3, 1)
                .unwrap(),
        );
        assert_eq!(got, ["###"]);
        let got = grid(
            &Polygon::new(vec![
                (0.0, 0.0),
                (2.0 / 3.0, 0.0),
                (2.0 / 3.0, 1.0),
                (0.0, 1.0),
            ])
            .unwrap()
            .cover(3, 1)
            .unwrap(),
        );
        // 2/3 of 3 px is 1.9999999999999998 px: columns 0 and 1 only.
        assert_eq!(got, ["##."]);
    }

    #[test]
    fn vertices_on_the_grid_need_no_growing() {
        let p = Polygon::new(vec![(0.25, 0.25), (0.75, 0.25), (0.5, 0.875)]).unwrap();
        assert!(p.outline(64, 32).unwrap().is_exact());
        assert!(p.outline(60, 30).unwrap().is_exact());
        let q = Polygon::new(vec![(0.1, 0.25), (0.75, 0.25), (0.5, 0.875)]).unwrap();
        assert!(!q.outline(60, 30).unwrap().is_exact()); // 0.1 x 60 = 6.000000000000000333
        let sq = Polygon::new(vec![(-1e305, -1e305), (1e305, -1e305), (1e305, 1e305)]).unwrap();
        assert!(sq.outline(7, 9).unwrap().is_exact()); // clamped to the guard box's corners
    }

    #[test]
    fn bridges_to_holes_add_nothing_along_them() {
        // A square with two holes, joined to the outline by there-and-back bridges from its
        // corner; the bridge to the far hole crosses the near one. Coordinates in tenths are
        // all inexact, so every edge has a hull, but a bridge's two edges cancel, hull and all.
        let hole = |a: f64, b: f64| vec![(a, a), (a, b), (b, b), (b, a), (a, a)];
        let mut pts = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)];
        pts.extend(hole(0.1, 0.3));
        pts.push((0.0, 0.0));
        pts.extend(hole(0.6, 0.9));
        pts.push((0.0, 0.0));
        let cover = Polygon::new(pts).unwrap().cover(30, 30).unwrap();
        // Of 30 px, 0.1 and 0.9 lie a hair past 3 and 27 px, 0.3 and 0.6 a hair before 9 and
        // 18: the holes leave pixels 4..=7 and 18..=26 open (the others hold slivers of the
        // square).
        for (lo, hi) in [(4, 7), (18, 26)] {
            for y in lo..=hi {
                for x in lo..=hi {
                    assert!(!cover.contains(x, y), "({x}, {y})");
                }
            }
        }
        assert_eq!(cover.count(), 900 - 16 - 81);
    }

    #[test]
    fn points_on_one_line_share_its_key() {
        assert_eq!(line_key((0, 0), (4, 6)), (2, 3, 0));
        assert_eq!(line_key((6, 9), (2, 3)), (2, 3, 0));
        assert_eq!(line_key((1, 0), (-3, 12)), (-1, 3, 3));
        assert_eq!(line_key((5, 7), (-5, 7)), (1, 0, -7));
        assert_eq!(line_key((5, 7), (5, 7)), (0, 0, 0));
        assert_ne!(line_key((0, 0), (4, 6)), line_key((1, 0), (5, 6)));
        let mut rng = 0x1234_5678_u64;
        for _ in 0..10_000 {
            let mut r = || {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((rng >> 33) % 4001) as i64 - 2000
            };
            let (a, d, k) = ((r(), r()), (r(), r()), r().abs() % 7 + 1);
            let b = (a.0 + d.0 * k, a.1 + d.1 * k);
            let c = (a.0 - d.0 * 3, a.1 - d.1 * 3);
            if d != (0, 0) {
                assert_eq!(line_key(a, b), line_key(c, a), "{a:?} {d:?}");
            }
        }
    }

    #[test]
    fn fine_bounds_are_exact() {
        assert_eq!(fine_bounds(0.25, 1920.0), (480 * FINE, 480 * FINE));
        assert_eq!(fine_bounds(0.1, 100.0), (10 * FINE, 10 * FINE + 1));
        assert_eq!(fine_bounds(0.3, 100.0), (30 * FINE - 1, 30 * FINE));
        assert_eq!(fine_bounds(-0.1, 100.0), (-10 * FINE - 1, -10 * FINE));
        assert_eq!(fine_bounds(5e-324, 3.0), (0, 1));
        assert_eq!(fine_bounds(-5e-324, 3.0), (-1, 0));
        assert_eq!(fine_bounds(0.0, 3.0), (0, 0));
    }
}
