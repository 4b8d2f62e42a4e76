//! Fill: covered samples interpolated from the visible samples around the cover (pull-push).
//!
//! Only samples that stay visible are read (neither this cover nor what later masks will hide),
//! so the output inside the cover does not depend on anything hidden: the style is anonymising like a solid colour, yet reads as a continuation of the
//! surroundings. Pull-push (a weighted mip-map built up from the known samples, then blended back
//! down) is O(samples) over the cover's bounding box grown by one sample.

use std::cell::RefCell;

use crate::error::Result;
use crate::frame::{ChannelMut, Sample};
use crate::parallel::{for_bands, for_rows2, MIN_SAMPLES_PER_BAND};
use crate::spans::Spans;

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
        Ok(FillPlan {
            spans,
            region,
            border,
            unreadable,
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

/// One level of the pyramid: `w * h` values, then `w * h` weights in [0, 1], at `offset` in the
/// scratch buffer (level 0, the samples themselves, is never stored).
#[derive(Clone, Copy)]
struct Level {
    w: usize,
    h: usize,
    offset: usize,
}

thread_local! {
    /// The pyramid from level 1 up; grown on demand and reused, so steady state allocates nothing.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// One blended coarse row (padded by one clamped value at each end), per worker thread.
    static BAND: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// One upsampled fine row, per worker thread.
    static UPSAMPLED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Fills the covered samples of the channel from the samples around them.
///
/// Level 0 of the pyramid (the region's samples, weight 1 where readable and 0 elsewhere) is
/// never materialised: the pull to level 1 reads the readable samples straight from the plane,
/// and since every covered sample has weight 0, its pushed-down value is just the upsampled
/// level 1, computed where it is written.
pub fn fill<T: Sample>(ch: ChannelMut<'_, T>, plan: &FillPlan, lifted: bool) {
    let unreadable = &plan.unreadable[usize::from(lifted)];
    let (x0, y0, x1, y1) = plan.region;
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    // Levels 1.. one after another, each `w * h` values then `w * h` weights. At most 16 levels
    // for planes up to 16384 samples a side; an array keeps this allocation-free.
    let mut storage = [Level {
        w: 0,
        h: 0,
        offset: 0,
    }; 24];
    let mut count = 0;
    let mut total = 0;
    let (mut w, mut h) = (rw, rh);
    while w > 1 || h > 1 {
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        storage[count] = Level {
            w,
            h,
            offset: total,
        };
        count += 1;
        total += 2 * w * h;
    }
    let levels = &storage[..count];
    let max = ch.max_value();
    let (step, shift) = (ch.step(), ch.shift());
    let word = |v: u32| T::from_word(v.min(max) << shift);
    let Some(first) = levels.first() else {
        // A one-sample region: the sample is covered and nothing around it is in the plane.
        write(ch, plan, |_, _, out| out.fill(word(max.div_ceil(2))));
        return;
    };
    // The buffer is taken out of the thread-local while in use (not borrowed): the passes below
    // run on the pool, and a worker waiting there may start another call's fill on this
    // very thread, which then simply starts with an empty buffer of its own.
    let mut buf = SCRATCH.with(RefCell::take);
    let run = || {
        if buf.len() < total {
            buf.resize(total, 0.0);
        }
        let buf = &mut buf[..total];

        // Pull to level 1: each sample is the mean of its (up to) 2x2 readable children in the
        // plane (sums of whole numbers, exact in f32), weight min(1, readable children).
        let (values, weights) = buf[..2 * first.w * first.h].split_at_mut(first.w * first.h);
        let reader = &ch;
        let parallel = (rw * rh) as u64 >= 4 * MIN_SAMPLES_PER_BAND;
        for_rows2(values, weights, first.w, parallel, |cy, out_v, out_w| {
            out_v.fill(0.0);
            out_w.fill(0.0);
            for y in y0 + 2 * cy as u32..(y0 + 2 * cy as u32 + 2).min(y1) {
                let row = reader.row(y);
                // The readable pieces of the row: the gaps between unreadable runs.
                let mut x = x0;
                let ends = unreadable
                    .row(y)
                    .iter()
                    .map(|&(a, b)| (a.clamp(x0, x1), b.clamp(x0, x1)));
                for (a, b) in ends.chain([(x1, x1)]) {
                    add_pairs(
                        row,
                        step,
                        shift,
                        ((x - x0) as usize, a.max(x) - x),
                        x0,
                        out_v,
                        out_w,
                    );
                    x = x.max(b);
                }
            }
            normalise(out_v, out_w);
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
                // Accumulate weight * value and weight of the one or two child rows, child by
                // child from left to right (the last pair of an odd row has one).
                let pairs = fine.w / 2;
                for fy in 2 * cy..(2 * cy + 2).min(fine.h) {
                    let (rv, rw) = (&fv[fy * fine.w..][..fine.w], &fw[fy * fine.w..][..fine.w]);
                    let (ov, ow) = (&mut out_v[..pairs], &mut out_w[..pairs]);
                    for (i, (ov, ow)) in ov.iter_mut().zip(ow.iter_mut()).enumerate() {
                        let (v0, v1, w0, w1) = (rv[2 * i], rv[2 * i + 1], rw[2 * i], rw[2 * i + 1]);
                        *ov = *ov + w0 * v0 + w1 * v1;
                        *ow = *ow + w0 + w1;
                    }
                    if fine.w % 2 == 1 {
                        let (v, w) = (rv[fine.w - 1], rw[fine.w - 1]);
                        out_v[pairs] += w * v;
                        out_w[pairs] += w;
                    }
                }
                normalise(out_v, out_w);
            });
        }

        // Nothing visible at all (the cover is the whole plane): flat mid-grey.
        let top = levels.last().expect("at least one level");
        if buf[top.offset + 1] == 0.0 {
            write(ch, plan, |_, _, out| out.fill(word(max.div_ceil(2))));
            return;
        }
        // Push: blend each level with the bilinear upsampling of the one above, by weight, down
        // to level 1; level 0's covered samples (weight 0) take the upsampled level 1 outright.
        for k in (0..levels.len() - 1).rev() {
            let (fine, coarse) = (&levels[k], &levels[k + 1]);
            let (lo, hi) = buf.split_at_mut(coarse.offset);
            let cv = &hi[..coarse.w * coarse.h];
            let (fv, fw) =
                lo[fine.offset..fine.offset + 2 * fine.w * fine.h].split_at_mut(fine.w * fine.h);
            let big = (fine.w * fine.h) as u64 >= 4 * MIN_SAMPLES_PER_BAND;
            for_rows2(fv, fw, fine.w, big, |y, vals, weights| {
                UPSAMPLED.with(|cell| {
                    let mut up = cell.borrow_mut();
                    if up.len() < fine.w {
                        up.resize(fine.w, 0.0);
                    }
                    let up = &mut up[..fine.w];
                    upsampled_row(cv, coarse, y, 0, up);
                    // Where w is 1 this leaves v exactly as it is (1 * v + 0 * c), so no branch.
                    for ((v, &w), &c) in vals.iter_mut().zip(weights.iter()).zip(up.iter()) {
                        *v = w * *v + (1.0 - w) * c;
                    }
                });
            });
        }
        let level1 = &buf[..first.w * first.h];
        write(ch, plan, |y, a, out| {
            UPSAMPLED.with(|cell| {
                let mut up = cell.borrow_mut();
                if up.len() < out.len() {
                    up.resize(out.len(), 0.0);
                }
                let up = &mut up[..out.len()];
                upsampled_row(level1, first, (y - y0) as usize, (a - x0) as usize, up);
                // Non-negative, so truncating `+ 0.5` rounds half up.
                if let Some(bytes) = T::as_bytes_mut(out) {
                    // The same rounding by the SIMD kernel: `c + (c - c) * 0 + 0.5` is `c + 0.5`.
                    crate::simd::lerp_rows_u8(up, up, 0.0, bytes);
                } else {
                    for (o, &c) in out.iter_mut().zip(up.iter()) {
                        *o = word((c + 0.5) as u32);
                    }
                }
            });
        });
    };
    run();
    SCRATCH.with(|cell| cell.replace(buf));
}

/// Adds the values of the `len` samples from region column `start` on (the region starting at
/// plane column `x0`) to the level-1 sums of their pairs, and their count to the weights. The
/// sums are whole numbers far below 2^24, so adding pairs first changes nothing.
fn add_pairs<T: Sample>(
    row: &[T],
    step: usize,
    shift: u32,
    (start, len): (usize, u32),
    x0: u32,
    sums: &mut [f32],
    weights: &mut [f32],
) {
    let row = &row[x0 as usize * step..];
    let value = |rx: usize| row[rx * step].word() >> shift;
    let (mut rx, end) = (start, start + len as usize);
    if rx % 2 == 1 && rx < end {
        sums[rx / 2] += value(rx) as f32;
        weights[rx / 2] += 1.0;
        rx += 1;
    }
    let pairs = (end - rx) / 2;
    let (s, w) = (
        &mut sums[rx / 2..][..pairs],
        &mut weights[rx / 2..][..pairs],
    );
    match (step, T::as_bytes(row)) {
        // Contiguous bytes: the same sums, in a loop the compiler vectorises.
        (1, Some(bytes)) => {
            let src = bytes[rx..rx + 2 * pairs].chunks_exact(2);
            for ((s, w), pair) in s.iter_mut().zip(w.iter_mut()).zip(src) {
                *s += (u32::from(pair[0]) + u32::from(pair[1])) as f32;
                *w += 2.0;
            }
        }
        _ => {
            for (k, (s, w)) in s.iter_mut().zip(w.iter_mut()).enumerate() {
                *s += (value(rx + 2 * k) + value(rx + 2 * k + 1)) as f32;
                *w += 2.0;
            }
        }
    }
    rx += 2 * pairs;
    if rx < end {
        sums[rx / 2] += value(rx) as f32;
        weights[rx / 2] += 1.0;
    }
}

/// Values to means and weights capped at 1, after a pull has summed them.
fn normalise(values: &mut [f32], weights: &mut [f32]) {
    for (v, w) in values.iter_mut().zip(weights.iter_mut()) {
        *v = if *w > 0.0 { *v / *w } else { 0.0 };
        *w = w.min(1.0);
    }
}

/// Writes into `out` the bilinear upsampling of the coarse level `cv` (`coarse.w` x
/// `coarse.h`) at the fine samples `a..a + out.len()` of fine row `y`; the end is at most
/// `2 * coarse.w`.
///
/// Fine sample x sits at coarse position x/2 - 1/4, between coarse (x-1)>>1 and the next, with
/// weight 3/4 (even x) or 1/4 (odd x) on the second; rows likewise. The coarse columns needed are
/// first blended across the two coarse rows into `band` (padded by one clamped value at each
/// end), then interpolated along it: fine samples 2m and 2m + 1 both lie between band[m],
/// band[m + 1] and band[m + 2], so they are made in pairs, without branches.
fn upsampled_row(cv: &[f32], coarse: &Level, y: usize, a: usize, out: &mut [f32]) {
    let b = a + out.len();
    if a >= b {
        return;
    }
    BAND.with(|cell| {
        let mut band = cell.borrow_mut();
        if band.len() < coarse.w + 2 {
            band.resize(coarse.w + 2, 0.0);
        }
        let band = &mut band[..coarse.w + 2];
        let hmax = (coarse.h - 1) as i64;
        let cy = (y as i64 - 1) >> 1;
        let ty = if y % 2 == 0 { 0.75 } else { 0.25 };
        let r0 = &cv[cy.clamp(0, hmax) as usize * coarse.w..][..coarse.w];
        let r1 = &cv[(cy + 1).clamp(0, hmax) as usize * coarse.w..][..coarse.w];
        // Samples a..b read band[(a+1)>>1 ..= (b>>1) + 1], i.e. coarse columns (a-1)>>1 ..= b>>1
        // (clamped: band[0] and band[coarse.w + 1] repeat the ends).
        let (p0, p1) = (a.saturating_sub(1) >> 1, (b >> 1).min(coarse.w - 1) + 1);
        for (i, (&c0, &c1)) in r0[p0..p1].iter().zip(&r1[p0..p1]).enumerate() {
            band[p0 + i + 1] = c0 + (c1 - c0) * ty;
        }
        (band[0], band[coarse.w + 1]) = (band[1], band[coarse.w]);
        let even = |m: usize| band[m] + (band[m + 1] - band[m]) * 0.75;
        let odd = |m: usize| band[m + 1] + (band[m + 2] - band[m + 1]) * 0.25;
        let (mut x, mut k) = (a, 0);
        if x % 2 == 1 {
            out[0] = odd(x / 2);
            (x, k) = (x + 1, 1);
        }
        let pairs = (b - x) / 2;
        let m0 = x / 2;
        for (j, pair) in out[k..k + 2 * pairs].chunks_exact_mut(2).enumerate() {
            pair[0] = even(m0 + j);
            pair[1] = odd(m0 + j);
        }
        if x + 2 * pairs < b {
            out[k + 2 * pairs] = even(m0 + pairs);
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
        let (first, end) = band.rows();
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
