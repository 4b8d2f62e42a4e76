//! Polygons in normalised image coordinates, and their exact fixed-point form in pixels.
//!
//! A vertex `(x, y)` in normalised coordinates maps to the pixel-space point `(x·W, y·H)`, which is
//! then snapped to the nearest 1/256 of a pixel (`floor(v·256 + 0.5)`, in IEEE double arithmetic).
//! Everything after the snap is exact integer arithmetic, so coverage is decided exactly for the
//! snapped polygon. Vertices further than [`GUARD_PX`] outside the frame are first clipped to a
//! guard box (Sutherland–Hodgman, which keeps every winding number inside the box).

use crate::error::{Error, Result};

/// Sub-pixel resolution of the snapped geometry: 1/256 of a pixel.
pub const SUBPIXEL: i64 = 256;

/// How far outside the frame (in pixels) vertices may lie before the polygon is clipped.
pub const GUARD_PX: f64 = 8192.0;

/// A polygon in normalised image coordinates; `(0, 0)` is the top-left corner of the frame and
/// `(1, 1)` the bottom-right one. Vertices outside `[0, 1]` are allowed; the fill rule is nonzero.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    points: Vec<(f64, f64)>,
}

impl Polygon {
    /// Validates and wraps the vertices: all finite, at least three distinct, not all collinear.
    pub fn new(points: Vec<(f64, f64)>) -> Result<Self> {
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

    /// The pixels of a `width` x `height` frame the polygon covers.
    pub fn cover(&self, width: u32, height: u32) -> Result<crate::spans::Spans> {
        crate::raster::rasterize(&self.to_fixed(width, height), width, height)
    }

    /// The polygon in pixel space for a `width` x `height` frame, snapped to 1/256 px.
    pub fn to_fixed(&self, width: u32, height: u32) -> FixedPolygon {
        let (w, h) = (f64::from(width), f64::from(height));
        let mut px: Vec<(f64, f64)> = self.points.iter().map(|&(x, y)| (x * w, y * h)).collect();
        let (lo_x, hi_x, lo_y, hi_y) = (-GUARD_PX, w + GUARD_PX, -GUARD_PX, h + GUARD_PX);
        if px
            .iter()
            .any(|&(x, y)| x < lo_x || x > hi_x || y < lo_y || y > hi_y)
        {
            px = clip_to_box(&px, lo_x, hi_x, lo_y, hi_y);
        }
        let snap = |v: f64| (v * SUBPIXEL as f64 + 0.5).floor() as i64;
        FixedPolygon {
            points: px.into_iter().map(|(x, y)| (snap(x), snap(y))).collect(),
        }
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

/// Clips a closed polygon to an axis-aligned box, one half-plane at a time.
fn clip_to_box(
    points: &[(f64, f64)],
    lo_x: f64,
    hi_x: f64,
    lo_y: f64,
    hi_y: f64,
) -> Vec<(f64, f64)> {
    let mut poly = points.to_vec();
    // (axis, bound, keep-below): each pass keeps one side of one line.
    let planes = [
        (0, lo_x, false),
        (0, hi_x, true),
        (1, lo_y, false),
        (1, hi_y, true),
    ];
    for (axis, bound, keep_below) in planes {
        if poly.is_empty() {
            break;
        }
        let coord = |p: &(f64, f64)| if axis == 0 { p.0 } else { p.1 };
        let inside = |p: &(f64, f64)| {
            if keep_below {
                coord(p) <= bound
            } else {
                coord(p) >= bound
            }
        };
        let mut out = Vec::with_capacity(poly.len() + 4);
        for i in 0..poly.len() {
            let cur = poly[i];
            let prev = poly[(i + poly.len() - 1) % poly.len()];
            let (cin, pin) = (inside(&cur), inside(&prev));
            if cin != pin {
                let t = (bound - coord(&prev)) / (coord(&cur) - coord(&prev));
                let mut p = (prev.0 + t * (cur.0 - prev.0), prev.1 + t * (cur.1 - prev.1));
                if axis == 0 {
                    p.0 = bound;
                } else {
                    p.1 = bound;
                }
                out.push(p);
            }
            if cin {
                out.push(cur);
            }
        }
        poly = out;
    }
    poly
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
            p.to_fixed(10, 4).points,
            vec![(0, 0), (1280, 0), (640, 1024)]
        );
    }

    #[test]
    fn clips_huge_coordinates_into_the_guard_box() {
        let p = Polygon::new(vec![(-1e12, -1e12), (1e12, -1e12), (0.5, 1e12)]).unwrap();
        let f = p.to_fixed(100, 100);
        let bound = ((100.0 + GUARD_PX) * SUBPIXEL as f64) as i64;
        assert!(
            f.points
                .iter()
                .all(|&(x, y)| x.abs() <= bound && y.abs() <= bound),
            "{f:?}"
        );
        assert!(f.points.len() >= 3);
    }
}
