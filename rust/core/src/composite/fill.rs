//! Fill: covered samples interpolated from the visible samples around the cover (pull-push).
//!
//! Only samples that stay visible are read (neither this cover nor what later masks will hide),
//! so the output inside the cover does not depend on anything hidden: the style is anonymising like a solid colour, yet reads as a continuation of the
//! surroundings. Pull-push (a weighted mip-map built up from the known samples, then blended back
//! down) is O(samples) over the cover's bounding box grown by one sample.

use std::cell::RefCell;

use crate::frame::{ChannelMut, Sample};
use crate::parallel::{for_rows2, MIN_SAMPLES_PER_BAND};
use crate::raster::Spans;

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
    /// Samples that must not be read: the cover and whatever later masks hide, for an ordinary
    /// apply (`[0]`) and a lifted one (`[1]`, where later liftable masks stay visible).
    unreadable: [Spans; 2],
}

impl FillPlan {
    /// Plans a fill of the samples covered by `spans`, reading none of `unreadable` (which must
    /// include `spans`) for an ordinary apply and a lifted one.
    pub fn new(spans: Spans, unreadable: [Spans; 2]) -> Self {
        let region = match spans.row_range() {
            None => (0, 0, 0, 0),
            Some((y0, y1)) => {
                let x0 = (y0..y1)
                    .filter_map(|y| spans.row(y).first())
                    .map(|r| r.0)
                    .min()
                    .unwrap_or(0);
                let x1 = (y0..y1)
                    .filter_map(|y| spans.row(y).last())
                    .map(|r| r.1)
                    .max()
                    .unwrap_or(0);
                (
                    x0.saturating_sub(1),
                    y0.saturating_sub(1),
                    (x1 + 1).min(spans.width()),
                    (y1 + 1).min(spans.height()),
                )
            }
        };
        let border = border_of(&spans);
        FillPlan {
            spans,
            region,
            border,
            unreadable,
        }
    }

    /// The covered samples that touch an uncovered one (left, right, up or down).
    pub fn border(&self) -> &Spans {
        &self.border
    }
}

fn border_of(spans: &Spans) -> Spans {
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

/// One level of the pyramid: `w * h` values, then `w * h` weights in [0, 1], at `offset`.
#[derive(Clone, Copy)]
struct Level {
    w: usize,
    h: usize,
    offset: usize,
}

thread_local! {
    /// The pyramid; grown on demand and reused, so steady state allocates nothing.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// One blended coarse row (padded by one clamped value at each end), per worker thread.
    static BAND: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fills the covered samples of the channel from the samples around them.
pub fn fill<T: Sample>(ch: &mut ChannelMut<'_, T>, plan: &FillPlan, lifted: bool) {
    let unreadable = &plan.unreadable[usize::from(lifted)];
    let (x0, y0, x1, y1) = plan.region;
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    // Pyramid layout: for each level, `w * h` values then `w * h` weights, levels one after another.
    // At most 16 levels for planes up to 16384 samples a side; an array keeps this allocation-free.
    let mut storage = [Level {
        w: 0,
        h: 0,
        offset: 0,
    }; 24];
    let mut count = 0;
    let mut total = 0;
    let (mut w, mut h) = (rw, rh);
    loop {
        storage[count] = Level {
            w,
            h,
            offset: total,
        };
        count += 1;
        total += 2 * w * h;
        if w == 1 && h == 1 {
            break;
        }
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
    }
    let levels = &storage[..count];
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() < total {
            buf.resize(total, 0.0);
        }
        let buf = &mut buf[..total];

        // Level 0: visible samples known with weight 1, covered ones unknown.
        let step = ch.step();
        let (values, weights) = buf[..2 * rw * rh].split_at_mut(rw * rh);
        let reader = &*ch;
        let parallel = (rw * rh) as u64 >= 4 * MIN_SAMPLES_PER_BAND;
        for_rows2(values, weights, rw, parallel, |y, out, wts| {
            let row = reader.row((y0 as usize + y) as u32);
            if step == 1 {
                for (o, &v) in out.iter_mut().zip(&row[x0 as usize..x1 as usize]) {
                    *o = reader.value(v) as f32;
                }
            } else {
                for (x, o) in out.iter_mut().enumerate() {
                    *o = reader.value(row[(x0 as usize + x) * step]) as f32;
                }
            }
            wts.fill(1.0);
            for &(a, b) in unreadable.row(y0 + y as u32) {
                let (a, b) = (a.clamp(x0, x1), b.clamp(x0, x1));
                wts[(a - x0) as usize..(b - x0) as usize].fill(0.0);
            }
        });

        // Pull: each coarser sample is the weighted mean of its (up to) 2x2 children.
        for k in 1..levels.len() {
            let (fine, coarse) = (&levels[k - 1], &levels[k]);
            let (lo, hi) = buf.split_at_mut(coarse.offset);
            let fv = &lo[fine.offset..fine.offset + fine.w * fine.h];
            let fw = &lo[fine.offset + fine.w * fine.h..fine.offset + 2 * fine.w * fine.h];
            let (cv, cw) = hi[..2 * coarse.w * coarse.h].split_at_mut(coarse.w * coarse.h);
            let big = (fine.w * fine.h) as u64 >= 4 * MIN_SAMPLES_PER_BAND;
            for_rows2(cv, cw, coarse.w, big, |cy, out_v, out_w| {
                out_v.fill(0.0);
                out_w.fill(0.0);
                // Accumulate weight * value and weight of the one or two child rows, in pairs of
                // children (the last pair of an odd row has one).
                for fy in 2 * cy..(2 * cy + 2).min(fine.h) {
                    let (rv, rw) = (&fv[fy * fine.w..][..fine.w], &fw[fy * fine.w..][..fine.w]);
                    for (((v2, w2), ov), ow) in rv
                        .chunks(2)
                        .zip(rw.chunks(2))
                        .zip(out_v.iter_mut())
                        .zip(out_w.iter_mut())
                    {
                        for (v, w) in v2.iter().zip(w2) {
                            *ov += w * v;
                            *ow += w;
                        }
                    }
                }
                for (ov, ow) in out_v.iter_mut().zip(out_w.iter_mut()) {
                    *ov = if *ow > 0.0 { *ov / *ow } else { 0.0 };
                    *ow = ow.min(1.0);
                }
            });
        }

        // Nothing visible at all (the cover is the whole plane): flat mid-grey.
        let top = levels.last().expect("at least one level");
        if buf[top.offset + 1] == 0.0 {
            let mid = ch.max_value().div_ceil(2) as f32;
            buf[levels[0].offset..levels[0].offset + rw * rh].fill(mid);
        } else {
            // Push: blend each level with the bilinear upsampling of the one above, by weight.
            // Fine sample x sits at coarse position x/2 - 1/4, between coarse (x-1)>>1 and the
            // next, with weight 3/4 (even x) or 1/4 (odd x) on the second; rows likewise. Each
            // fine row first blends its two coarse rows into `band` (padded by one clamped value
            // at each end), then interpolates along it.
            for k in (0..levels.len() - 1).rev() {
                let (fine, coarse) = (&levels[k], &levels[k + 1]);
                let (lo, hi) = buf.split_at_mut(coarse.offset);
                let cv = &hi[..coarse.w * coarse.h];
                let (fv, fw) = lo[fine.offset..fine.offset + 2 * fine.w * fine.h]
                    .split_at_mut(fine.w * fine.h);
                let hmax = (coarse.h - 1) as i64;
                let big = (fine.w * fine.h) as u64 >= 4 * MIN_SAMPLES_PER_BAND;
                for_rows2(fv, fw, fine.w, big, |y, vals, weights| {
                    BAND.with(|cell| {
                        let mut band = cell.borrow_mut();
                        if band.len() < coarse.w + 2 {
                            band.resize(coarse.w + 2, 0.0);
                        }
                        let band = &mut band[..coarse.w + 2];
                        let cy = (y as i64 - 1) >> 1;
                        let ty = if y % 2 == 0 { 0.75 } else { 0.25 };
                        let r0 = &cv[cy.clamp(0, hmax) as usize * coarse.w..][..coarse.w];
                        let r1 = &cv[(cy + 1).clamp(0, hmax) as usize * coarse.w..][..coarse.w];
                        for ((b, &a0), &a1) in band[1..=coarse.w].iter_mut().zip(r0).zip(r1) {
                            *b = a0 + (a1 - a0) * ty;
                        }
                        (band[0], band[coarse.w + 1]) = (band[1], band[coarse.w]);
                        for (x, (v, &w)) in vals.iter_mut().zip(weights.iter()).enumerate() {
                            if w >= 1.0 {
                                continue;
                            }
                            let p = (x + 1) >> 1;
                            let tx = if x % 2 == 0 { 0.75 } else { 0.25 };
                            let c = band[p] + (band[p + 1] - band[p]) * tx;
                            *v = w * *v + (1.0 - w) * c;
                        }
                    });
                });
            }
        }

        // Write the covered samples.
        let solved = &buf[..rw * rh];
        let max = ch.max_value();
        for y in y0..y1 {
            let runs = plan.spans.row(y);
            if runs.is_empty() {
                continue;
            }
            let shift = ch.shift();
            let word = |v: u32| T::from_word(v << shift);
            let row = ch.row_mut(y);
            let base = (y - y0) as usize * rw;
            for &(a, b) in runs {
                for x in a..b {
                    // Non-negative, so truncating `+ 0.5` rounds half up.
                    let value = ((solved[base + (x - x0) as usize] + 0.5) as u32).min(max);
                    row[x as usize * step] = word(value);
                }
            }
        }
    });
}
