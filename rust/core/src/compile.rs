//! `CompiledMasks`: a mask list rasterised and planned once for one frame geometry.

use crate::blocks::BlockGrid;
use crate::color::{ColourSpace, Matrix};
use crate::composite::blur::{blur, BlurPlan};
use crate::composite::fill::{fill, FillPlan};
use crate::composite::{mosaic::mosaic, solid::solid};
use crate::error::{Error, Result};
use crate::format::{check_dimensions, ChannelLayout, PixelFormat};
use crate::frame::{ChannelMut, FrameMut, Sample};
use crate::geometry::Polygon;
use crate::parallel::{for_bands, may_split, pool, MIN_SAMPLES_PER_BAND};
use crate::spans::Spans;
use crate::style::{blur_sigma_px, mosaic_block_px, Style};
use rayon::prelude::*;

/// One mask as the core sees it: where, how, and whether an authorised viewer may lift it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskSpec {
    /// The area to hide.
    pub polygon: Polygon,
    /// How to hide it.
    pub style: Style,
    /// Whether `apply(.., lifted = true)` skips this mask.
    pub liftable: bool,
}

/// What a compiled mask does to one plane geometry (luma, or the chroma planes).
#[derive(Clone, Debug, PartialEq)]
enum PlanePlan {
    Solid,
    Mosaic(BlockGrid),
    Blur(BlurPlan),
    Fill(FillPlan),
}

#[derive(Clone, Debug, PartialEq)]
struct CompiledMask {
    liftable: bool,
    /// Sample values for solid masks (and fill outlines), by component index.
    colour: [u32; 3],
    /// Whether a fill draws its outline in `colour`.
    outline: bool,
    /// Luma cover and plan, then chroma cover and plan (absent for `gray`).
    luma: (Spans, PlanePlan),
    chroma: Option<(Spans, PlanePlan)>,
}

/// What the masks after some point will cover: a fill must not read it, or the original under a
/// later mask would leak into the fill. With `lifted`, later liftable masks are not applied, so
/// what they cover stays visible and may be read.
struct Hidden {
    all: Spans,
    permanent: Spans,
}

impl Hidden {
    fn new(width: u32, height: u32) -> Self {
        let empty = Spans::empty(width, height);
        Hidden {
            all: empty.clone(),
            permanent: empty,
        }
    }

    fn add(&mut self, cover: &Spans, liftable: bool) -> Result<()> {
        self.all = self.all.union(cover)?;
        if !liftable {
            self.permanent = self.permanent.union(cover)?;
        }
        Ok(())
    }
}

/// A mask list compiled for one `(width, height, format, colour space)`: covers as row spans per
/// plane and block partitions for mosaic and blur. Immutable and `Send + Sync`; compile once, then
/// [`CompiledMasks::apply`] to every frame of that geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledMasks {
    width: u32,
    height: u32,
    format: PixelFormat,
    space: ColourSpace,
    masks: Vec<CompiledMask>,
    /// Covered luma samples summed over the masks: how much work an `apply` is.
    luma_samples: u64,
}

impl CompiledMasks {
    /// Rasterises and plans `masks` for frames of the given geometry. `space` defaults to the
    /// height's usual matrix (BT.709 from 720 rows up, else BT.601) and the format's range.
    pub fn compile(
        masks: &[MaskSpec],
        width: u32,
        height: u32,
        format: PixelFormat,
        space: Option<ColourSpace>,
    ) -> Result<Self> {
        check_dimensions(width, height)?;
        let space = space.unwrap_or(ColourSpace {
            matrix: Matrix::for_height(height),
            full_range: format.implies_full_range(),
        });
        let (sx, sy) = format.subsampling();
        let has_chroma = format != PixelFormat::Gray && !format.is_rgb();
        for (i, m) in masks.iter().enumerate() {
            m.style.validate().map_err(|e| match e {
                Error::MaskConfig(msg) => Error::MaskConfig(format!("masks[{i}].style: {msg}")),
                other => other,
            })?;
        }
        // Covers first: a fill must know what later masks will hide (see `Hidden`). Masks are
        // rasterised independently, on the pool when there are several (PTZ and tracked masks
        // are compiled per frame).
        let cover = |m: &MaskSpec| -> Result<(Spans, Option<Spans>)> {
            let luma = m.polygon.cover(width, height)?;
            let chroma = match has_chroma {
                true => Some(luma.subsample(sx, sy)?),
                false => None,
            };
            Ok((luma, chroma))
        };
        let covers: Vec<(Spans, Option<Spans>)> = if masks.len() > 1 && may_split() {
            pool().install(|| masks.par_iter().map(cover).collect::<Result<_>>())?
        } else {
            masks.iter().map(cover).collect::<Result<_>>()?
        };
        let mut compiled = Vec::with_capacity(masks.len());
        let mut hidden_luma = Hidden::new(width, height);
        let (cw, ch) = format.plane_samples(1, width, height);
        let mut hidden_chroma = Hidden::new(cw, ch);
        // fills_before[i]: some mask before i is a fill (and so must not read i's cover).
        let fills_before: Vec<bool> = masks
            .iter()
            .scan(false, |seen, m| {
                let before = *seen;
                *seen |= matches!(m.style, Style::Fill(_));
                Some(before)
            })
            .collect();
        for (i, (m, (luma, chroma))) in masks.iter().zip(covers).enumerate().rev() {
            let (colour, outline) = match m.style {
                Style::Solid(c) | Style::Fill(Some(c)) => {
                    (c.samples(format, space), matches!(m.style, Style::Fill(_)))
                }
                _ => ([0; 3], false),
            };
            let plan = |spans: &Spans, div: (u32, u32), hidden: &Hidden| -> Result<PlanePlan> {
                Ok(match m.style {
                    Style::Solid(_) => PlanePlan::Solid,
                    Style::Mosaic(len) => {
                        let b = mosaic_block_px(len, height, sx.max(sy));
                        PlanePlan::Mosaic(BlockGrid::new(
                            spans.width(),
                            spans.height(),
                            b / div.0,
                            b / div.1,
                        ))
                    }
                    Style::Blur(len) => {
                        let sigma = blur_sigma_px(len, height);
                        let g = (sigma.ceil() as u32).max(2).div_ceil(sx.max(sy)) * sx.max(sy);
                        let cells =
                            BlockGrid::new(spans.width(), spans.height(), g / div.0, g / div.1);
                        PlanePlan::Blur(BlurPlan::new(spans.clone(), cells, sigma / f64::from(g)))
                    }
                    Style::Fill(_) => PlanePlan::Fill(FillPlan::new(
                        spans.try_clone()?,
                        [spans.union(&hidden.all)?, spans.union(&hidden.permanent)?],
                    )?),
                })
            };
            let luma_plan = plan(&luma, (1, 1), &hidden_luma)?;
            let chroma = match chroma {
                Some(c) => {
                    let p = plan(&c, (sx, sy), &hidden_chroma)?;
                    Some((c, p))
                }
                None => None,
            };
            // Only fills read outside their cover, so only they need to know what later masks hide.
            if fills_before[i] {
                hidden_luma.add(&luma, m.liftable)?;
                if let Some((c, _)) = &chroma {
                    hidden_chroma.add(c, m.liftable)?;
                }
            }
            compiled.push(CompiledMask {
                liftable: m.liftable,
                colour,
                outline,
                luma: (luma, luma_plan),
                chroma,
            });
        }
        compiled.reverse();
        Ok(CompiledMasks {
            width,
            height,
            format,
            space,
            luma_samples: compiled.iter().map(|m| m.luma.0.count()).sum(),
            masks: compiled,
        })
    }

    /// Frame width the masks were compiled for.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height the masks were compiled for.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel format the masks were compiled for.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Colour space used to convert RGB colours.
    pub fn colour_space(&self) -> ColourSpace {
        self.space
    }

    /// Number of masks.
    pub fn len(&self) -> usize {
        self.masks.len()
    }

    /// Whether there are no masks.
    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    /// The luma cover of mask `i`.
    pub fn luma_cover(&self, i: usize) -> &Spans {
        &self.masks[i].luma.0
    }

    /// The union of the luma covers of the masks that apply (`lifted` skips liftable ones).
    pub fn coverage(&self, lifted: bool) -> Result<Spans> {
        self.masks
            .iter()
            .filter(|m| !(lifted && m.liftable))
            .try_fold(Spans::empty(self.width, self.height), |acc, m| {
                acc.union(&m.luma.0)
            })
    }

    /// Applies the masks in list order, in place. With `lifted`, liftable masks are skipped and
    /// permanent ones still applied. The frame is checked first; on error nothing is written.
    pub fn apply<T: Sample>(&self, frame: &mut FrameMut<'_, T>, lifted: bool) -> Result<()> {
        if (frame.width(), frame.height(), frame.format()) != (self.width, self.height, self.format)
        {
            return Err(Error::FrameFormat(format!(
                "masks were compiled for {}x{} {} but the frame is {}x{} {}",
                self.width,
                self.height,
                self.format.name(),
                frame.width(),
                frame.height(),
                frame.format().name()
            )));
        }
        // Large jobs run the whole mask list on the pool, so the bands of consecutive masks and
        // channels find the workers awake instead of waking them for each one.
        let big = self.luma_samples >= 4 * MIN_SAMPLES_PER_BAND;
        if big && may_split() {
            pool().install(|| self.apply_masks(frame, lifted));
        } else {
            self.apply_masks(frame, lifted);
        }
        Ok(())
    }

    fn apply_masks<T: Sample>(&self, frame: &mut FrameMut<'_, T>, lifted: bool) {
        let big = self.luma_samples >= 4 * MIN_SAMPLES_PER_BAND;
        for m in self.masks.iter().filter(|m| !(lifted && m.liftable)) {
            // Planar frames: luma on one side, the chroma planes one after the other on the
            // other (as many samples), so the serial parts of each kernel overlap.
            if big && may_split() {
                if let Some([Some(luma), u, v]) = frame.planar_channels() {
                    let layouts = self.format.channels();
                    rayon::join(
                        || m.apply_channel(layouts[0], luma, lifted),
                        || {
                            for (layout, ch) in layouts[1..].iter().zip([u, v]) {
                                if let Some(ch) = ch {
                                    m.apply_channel(*layout, ch, lifted);
                                }
                            }
                        },
                    );
                    continue;
                }
            }
            for &layout in self.format.channels() {
                m.apply_channel(layout, frame.channel(layout), lifted);
            }
        }
    }
}

impl CompiledMask {
    /// Applies this mask to one channel.
    fn apply_channel<T: Sample>(
        &self,
        layout: ChannelLayout,
        mut ch: ChannelMut<'_, T>,
        lifted: bool,
    ) {
        let (spans, plan) = if layout.component.is_full_resolution() {
            (&self.luma.0, &self.luma.1)
        } else {
            match &self.chroma {
                Some((s, p)) => (s, p),
                None => return,
            }
        };
        let value = self.colour[layout.component.index()];
        match plan {
            // A fill of memory runs at the bandwidth one core already reaches; waking a second
            // thread only adds latency (measured 0.6x at 4K), so solid stays serial.
            PlanePlan::Solid => solid(&mut ch, spans, value),
            PlanePlan::Mosaic(blocks) => {
                for_bands(ch, spans, blocks.block_h, &|mut band: ChannelMut<'_, T>| {
                    mosaic(&mut band, spans, blocks)
                });
            }
            PlanePlan::Blur(p) => blur(ch, p),
            PlanePlan::Fill(p) => {
                fill(ch.reborrow(), p, lifted);
                if self.outline {
                    solid(&mut ch, p.border(), value);
                }
            }
        }
    }
}
