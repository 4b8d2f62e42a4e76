//! Motion-based dynamic masking: a background model on a reduced luma grid, a threshold,
//! morphological clean-up and connected components, giving the boxes of what moves.
//!
//! The grid is the luma plane averaged over `scale` x `scale` cells: a person in a car park is
//! dozens of pixels across, so detail below a cell only adds noise and cost (1080p at scale 4
//! is a 480 x 270 grid). Every buffer is allocated once, in [`MotionDetector::new`]; a frame
//! allocates nothing unless it finds more components than any frame before it.
//!
//! Failing closed is the caller's job, with the help of [`MotionResult::learning`]: while the
//! background is still being learned nothing can be told apart from it, so those frames must be
//! masked whole.

use crate::error::{Error, Result};

/// How the detector sees motion. [`MotionParams::default`] suits 25 fps surveillance footage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionParams {
    /// Edge of a grid cell in luma pixels (1 = full resolution).
    pub scale: u32,
    /// Frames over which something that stops moving merges into the background: the running
    /// average takes `1 / merge_frames` of each new frame.
    pub merge_frames: f32,
    /// A cell is foreground when its mean luma differs from the background by more than this.
    pub threshold: f32,
    /// Radius (cells) of the opening that removes specks of noise; 0 skips it.
    pub open_radius: u32,
    /// Radius (cells) of the dilation after it, which joins the parts of one body and leaves a
    /// margin round it.
    pub dilate_radius: u32,
    /// Components smaller than this many cells are dropped as noise.
    pub min_cells: u32,
    /// Frames (from the first) while the background is learned; they report `learning`.
    pub warmup_frames: u32,
}

impl Default for MotionParams {
    fn default() -> Self {
        MotionParams {
            scale: 4,
            merge_frames: 50.0,
            threshold: 18.0,
            open_radius: 1,
            dilate_radius: 2,
            min_cells: 4,
            warmup_frames: 5,
        }
    }
}

impl MotionParams {
    /// Checks that every parameter is in range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::MaskConfig(m));
        if self.scale == 0 || self.scale > 64 {
            return bad(format!(
                "motion scale must be 1-64 pixels, got {}",
                self.scale
            ));
        }
        if !(self.merge_frames.is_finite() && self.merge_frames >= 1.0) {
            return bad(format!(
                "merge_frames must be at least 1, got {}",
                self.merge_frames
            ));
        }
        if !(self.threshold.is_finite() && (0.0..255.0).contains(&self.threshold)) {
            return bad(format!(
                "the motion threshold must be 0-255, got {}",
                self.threshold
            ));
        }
        if self.open_radius > 16 || self.dilate_radius > 16 {
            return bad("morphology radii must be at most 16 cells".to_string());
        }
        Ok(())
    }
}

/// A moving component's bounding box in luma pixels: `[x0, x1) x [y0, y1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MotionBox {
    /// Left edge (inclusive).
    pub x0: u32,
    /// Top edge (inclusive).
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
    /// Foreground cells in the component.
    pub cells: u32,
}

/// What one frame showed.
#[derive(Debug)]
pub struct MotionResult<'a> {
    /// True while the background is still being learned: the boxes mean nothing yet and the
    /// whole frame must be treated as moving.
    pub learning: bool,
    /// The moving components, largest first.
    pub boxes: &'a [MotionBox],
}

/// A running-average background model for frames of one size.
#[derive(Clone, Debug)]
pub struct MotionDetector {
    params: MotionParams,
    width: u32,
    height: u32,
    grid_w: usize,
    grid_h: usize,
    background: Vec<f32>,
    current: Vec<f32>,
    mask: Vec<u8>,
    scratch: Vec<u8>,
    excluded: Vec<bool>,
    stack: Vec<u32>,
    boxes: Vec<MotionBox>,
    frames: u64,
}

impl MotionDetector {
    /// A detector for `width` x `height` luma planes.
    pub fn new(width: u32, height: u32, params: MotionParams) -> Result<Self> {
        params.validate()?;
        if width == 0 || height == 0 {
            return Err(Error::FrameFormat(format!(
                "a motion detector needs a non-empty frame, got {width}x{height}"
            )));
        }
        crate::format::check_dimensions(width, height)?;
        let s = params.scale;
        let grid_w = width.div_ceil(s) as usize;
        let grid_h = height.div_ceil(s) as usize;
        let n = grid_w * grid_h;
        Ok(MotionDetector {
            params,
            width,
            height,
            grid_w,
            grid_h,
            background: vec![0.0; n],
            current: vec![0.0; n],
            mask: vec![0; n],
            scratch: vec![0; n],
            excluded: vec![false; n],
            stack: Vec::with_capacity(n.min(1 << 16)),
            boxes: Vec::with_capacity(64),
            frames: 0,
        })
    }

    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The parameters in use.
    pub fn params(&self) -> MotionParams {
        self.params
    }

    /// Frames seen since creation or the last [`reset`](Self::reset).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The size of the reduced grid (columns, rows).
    pub fn grid(&self) -> (usize, usize) {
        (self.grid_w, self.grid_h)
    }

    /// Forgets the background: the next frames are learning frames again (after a cut, a PTZ
    /// move or a lighting change, when everything would look like motion).
    pub fn reset(&mut self) {
        self.frames = 0;
    }

    /// Sets the area where motion is not reported: the permanent privacy masks' exclusion map,
    /// `excluded[y * stride + x] != 0` for luma pixel (x, y). A cell is ignored only when every
    /// pixel in it is excluded, so motion next to a mask is never lost.
    pub fn set_exclusion(&mut self, excluded: &[u8], stride: usize) -> Result<()> {
        self.check_plane(excluded.len(), stride)?;
        let s = self.params.scale as usize;
        let (w, h) = (self.width as usize, self.height as usize);
        for gy in 0..self.grid_h {
            for gx in 0..self.grid_w {
                let (x0, y0) = (gx * s, gy * s);
                let (x1, y1) = ((x0 + s).min(w), (y0 + s).min(h));
                let all = (y0..y1).all(|y| {
                    excluded[y * stride + x0..y * stride + x1]
                        .iter()
                        .all(|&v| v != 0)
                });
                self.excluded[gy * self.grid_w + gx] = all;
            }
        }
        Ok(())
    }

    fn check_plane(&self, len: usize, stride: usize) -> Result<()> {
        let (w, h) = (self.width as usize, self.height as usize);
        if stride < w {
            return Err(Error::FrameFormat(format!(
                "a row stride of {stride} is shorter than the {w}-pixel width"
            )));
        }
        if len < (h - 1) * stride + w {
            return Err(Error::FrameFormat(format!(
                "a {w}x{h} plane with stride {stride} needs {} samples, got {len}",
                (h - 1) * stride + w
            )));
        }
        Ok(())
    }

    /// Takes the next frame's luma plane (`luma[y * stride + x]`), compares it with the
    /// background, updates the background, and returns the moving components.
    pub fn process(&mut self, luma: &[u8], stride: usize) -> Result<MotionResult<'_>> {
        self.check_plane(luma.len(), stride)?;
        self.reduce(luma, stride);
        self.boxes.clear();
        let first = self.frames == 0;
        self.frames += 1;
        if first {
            self.background.copy_from_slice(&self.current);
        }
        let learning = self.frames <= u64::from(self.params.warmup_frames);
        let threshold = self.params.threshold;
        for (i, (m, (&c, &b))) in self
            .mask
            .iter_mut()
            .zip(self.current.iter().zip(&self.background))
            .enumerate()
        {
            *m = u8::from((c - b).abs() > threshold && !self.excluded[i]);
        }
        // While learning, the background converges faster (a plain mean of the frames so far),
        // so a short warm-up gives a usable model.
        let rate = if learning {
            1.0 / self.frames as f32
        } else {
            1.0 / self.params.merge_frames
        };
        for (b, &c) in self.background.iter_mut().zip(&self.current) {
            *b += rate * (c - *b);
        }
        if learning {
            return Ok(MotionResult {
                learning,
                boxes: &self.boxes,
            });
        }
        let r = self.params.open_radius as usize;
        if r > 0 {
            self.morph(r, false);
            self.morph(r, true);
        }
        let d = self.params.dilate_radius as usize;
        if d > 0 {
            self.morph(d, true);
        }
        self.components();
        Ok(MotionResult {
            learning,
            boxes: &self.boxes,
        })
    }

    /// Mean luma of each cell into `current`.
    fn reduce(&mut self, luma: &[u8], stride: usize) {
        let s = self.params.scale as usize;
        let (w, h) = (self.width as usize, self.height as usize);
        let gw = self.grid_w;
        for gy in 0..self.grid_h {
            let row = &mut self.current[gy * gw..(gy + 1) * gw];
            row.fill(0.0);
            let (y0, y1) = (gy * s, ((gy + 1) * s).min(h));
            for y in y0..y1 {
                let line = &luma[y * stride..y * stride + w];
                for (gx, chunk) in line.chunks(s).enumerate() {
                    let sum: u32 = chunk.iter().map(|&v| u32::from(v)).sum();
                    row[gx] += sum as f32;
                }
            }
            let rows = (y1 - y0) as f32;
            for (gx, v) in row.iter_mut().enumerate() {
                let cols = ((gx + 1) * s).min(w) - gx * s;
                *v /= rows * cols as f32;
            }
        }
    }

    /// Erosion (`grow == false`) or dilation of `mask` by a square of radius `r`, separably:
    /// rows into `scratch`, then columns back into `mask`.
    fn morph(&mut self, r: usize, grow: bool) {
        let (gw, gh) = (self.grid_w, self.grid_h);
        let pick = |acc: u8, v: u8| if grow { acc | v } else { acc & v };
        for y in 0..gh {
            let src = &self.mask[y * gw..(y + 1) * gw];
            let dst = &mut self.scratch[y * gw..(y + 1) * gw];
            for (x, out) in dst.iter_mut().enumerate() {
                let (a, b) = (x.saturating_sub(r), (x + r + 1).min(gw));
                // Outside the grid counts as background for dilation and as foreground for
                // erosion, so a body entering at the edge is not eroded away.
                *out = src[a..b]
                    .iter()
                    .fold(u8::from(!grow), |acc, &v| pick(acc, v));
            }
        }
        for x in 0..gw {
            for y in 0..gh {
                let (a, b) = (y.saturating_sub(r), (y + r + 1).min(gh));
                self.mask[y * gw + x] = (a..b)
                    .map(|yy| self.scratch[yy * gw + x])
                    .fold(u8::from(!grow), pick);
            }
        }
    }

    /// 8-connected components of `mask` into `boxes` (in luma pixels), largest first.
    fn components(&mut self) {
        let (gw, gh) = (self.grid_w, self.grid_h);
        let s = self.params.scale;
        for start in 0..self.mask.len() {
            if self.mask[start] != 1 {
                continue;
            }
            self.mask[start] = 2;
            self.stack.clear();
            self.stack.push(start as u32);
            let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
            let mut cells = 0u32;
            while let Some(i) = self.stack.pop() {
                let i = i as usize;
                let (x, y) = (i % gw, i / gw);
                cells += 1;
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
                for ny in y.saturating_sub(1)..(y + 2).min(gh) {
                    for nx in x.saturating_sub(1)..(x + 2).min(gw) {
                        let j = ny * gw + nx;
                        if self.mask[j] == 1 {
                            self.mask[j] = 2;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            if cells >= self.params.min_cells {
                self.boxes.push(MotionBox {
                    x0: x0 as u32 * s,
                    y0: y0 as u32 * s,
                    x1: (x1 as u32 * s).min(self.width),
                    y1: (y1 as u32 * s).min(self.height),
                    cells,
                });
            }
        }
        self.boxes
            .sort_unstable_by(|a, b| b.cells.cmp(&a.cells).then(a.y0.cmp(&b.y0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MotionParams {
        MotionParams {
            scale: 2,
            warmup_frames: 3,
            ..MotionParams::default()
        }
    }

    fn frame(w: usize, h: usize, square: Option<(usize, usize, usize)>) -> Vec<u8> {
        let mut f = vec![60u8; w * h];
        if let Some((x, y, e)) = square {
            for yy in y..(y + e).min(h) {
                for xx in x..(x + e).min(w) {
                    f[yy * w + xx] = 200;
                }
            }
        }
        f
    }

    #[test]
    fn learning_frames_then_a_box_round_the_moving_square() {
        let (w, h) = (64, 48);
        let mut d = MotionDetector::new(w as u32, h as u32, params()).unwrap();
        for _ in 0..3 {
            assert!(d.process(&frame(w, h, None), w).unwrap().learning);
        }
        let r = d.process(&frame(w, h, None), w).unwrap();
        assert!(!r.learning);
        assert!(r.boxes.is_empty());
        let r = d.process(&frame(w, h, Some((20, 10, 12))), w).unwrap();
        assert_eq!(r.boxes.len(), 1);
        let b = r.boxes[0];
        // The box holds the square and the dilation margin, on the cell grid.
        assert!(
            b.x0 <= 20 && b.y0 <= 10 && b.x1 >= 32 && b.y1 >= 22,
            "{b:?}"
        );
        assert!(b.x0 >= 10 && b.x1 <= 42, "{b:?}");
    }

    #[test]
    fn specks_are_removed_by_the_opening() {
        let (w, h) = (64, 48);
        let mut d = MotionDetector::new(w as u32, h as u32, params()).unwrap();
        for _ in 0..4 {
            d.process(&frame(w, h, None), w).unwrap();
        }
        let r = d.process(&frame(w, h, Some((30, 30, 2))), w).unwrap();
        assert!(r.boxes.is_empty(), "{:?}", r.boxes);
    }

    #[test]
    fn excluded_cells_report_nothing() {
        let (w, h) = (64, 48);
        let mut d = MotionDetector::new(w as u32, h as u32, params()).unwrap();
        let mut ex = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..32 {
                ex[y * w + x] = 1;
            }
        }
        d.set_exclusion(&ex, w).unwrap();
        for _ in 0..4 {
            d.process(&frame(w, h, None), w).unwrap();
        }
        assert!(d
            .process(&frame(w, h, Some((4, 4, 16))), w)
            .unwrap()
            .boxes
            .is_empty());
        assert_eq!(
            d.process(&frame(w, h, Some((40, 4, 16))), w)
                .unwrap()
                .boxes
                .len(),
            1
        );
    }

    #[test]
    fn a_still_object_merges_into_the_background() {
        let (w, h) = (32, 32);
        let p = MotionParams {
            merge_frames: 4.0,
            ..params()
        };
        let mut d = MotionDetector::new(w as u32, h as u32, p).unwrap();
        for _ in 0..4 {
            d.process(&frame(w, h, None), w).unwrap();
        }
        let still = frame(w, h, Some((8, 8, 10)));
        assert_eq!(d.process(&still, w).unwrap().boxes.len(), 1);
        for _ in 0..30 {
            d.process(&still, w).unwrap();
        }
        assert!(d.process(&still, w).unwrap().boxes.is_empty());
    }

    #[test]
    fn strided_planes_and_odd_sizes() {
        let (w, h, stride) = (33, 21, 40);
        let mut d = MotionDetector::new(w as u32, h as u32, params()).unwrap();
        let bg = vec![50u8; stride * h];
        for _ in 0..4 {
            d.process(&bg, stride).unwrap();
        }
        let mut f = bg.clone();
        for y in 12..h {
            for x in 24..w {
                f[y * stride + x] = 250;
            }
            for x in w..stride {
                f[y * stride + x] = 0; // padding is never read as picture
            }
        }
        let r = d.process(&f, stride).unwrap();
        assert_eq!(r.boxes.len(), 1);
        let b = r.boxes[0];
        assert_eq!((b.x1, b.y1), (33, 21));
        assert!(b.x0 <= 24 && b.y0 <= 12);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(MotionDetector::new(0, 10, params()).is_err());
        let bad = MotionParams {
            scale: 0,
            ..params()
        };
        assert!(matches!(
            MotionDetector::new(10, 10, bad),
            Err(Error::MaskConfig(_))
        ));
        let mut d = MotionDetector::new(10, 10, params()).unwrap();
        assert!(matches!(
            d.process(&[0; 99], 10),
            Err(Error::FrameFormat(_))
        ));
        assert!(matches!(
            d.process(&[0; 100], 9),
            Err(Error::FrameFormat(_))
        ));
    }
}
