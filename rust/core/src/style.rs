//! Mask styles and how their sizes resolve for a given frame.

use crate::color::{rgb_to_yuv_depth, yuv_to_rgb, ColourSpace};
use crate::error::{Error, Result};
use crate::format::PixelFormat;

/// A solid mask's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Colour {
    /// Gamma-encoded RGB, converted with the frame's matrix and range.
    Rgb([u8; 3]),
    /// Raw Y, U, V sample values, written as given.
    Yuv([u8; 3]),
}

impl Colour {
    /// The sample values to write, by component index (Y, U, V or R, G, B), on a frame of
    /// `format` coded in `space`. Raw `Yuv` values are 8-bit and scale up for 10-bit formats.
    pub fn samples(self, format: PixelFormat, space: ColourSpace) -> [u32; 3] {
        let depth = format.depth();
        match (self, format.is_rgb()) {
            (Colour::Rgb(rgb), true) => rgb.map(u32::from),
            (Colour::Yuv(yuv), true) => yuv_to_rgb(yuv, space).map(u32::from),
            (Colour::Rgb(rgb), false) => rgb_to_yuv_depth(rgb, space, depth),
            (Colour::Yuv(yuv), false) => yuv.map(|v| u32::from(v) << (depth - 8)),
        }
    }
}

/// A length either relative to the frame height or in luma pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    /// A fraction of the frame height (the same strength on a 4K main stream and a substream).
    Relative(f64),
    /// Luma pixels.
    Pixels(f64),
}

/// How a mask hides what it covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// Every covered sample set to one colour.
    Solid(Colour),
    /// Every covered sample set to the mean of the covered samples of its block; the length is the
    /// block edge.
    Mosaic(Length),
    /// The information-bounded Gaussian: cell means, smoothed on the cell grid, interpolated back;
    /// the length is sigma.
    Blur(Length),
    /// Every covered sample interpolated from the visible samples around the cover; an optional
    /// outline colour marks the cover's border so viewers can see that something was masked.
    Fill(Option<Colour>),
}

/// How much of the original a style can let through (see DESIGN §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grade {
    /// Output independent of the content: anonymising.
    Anonymising,
    /// One value per block or cell survives: pseudonymising, not anonymising.
    Bounded,
}

impl Style {
    /// The irreversibility grade of the style.
    pub fn grade(&self) -> Grade {
        match self {
            Style::Solid(_) | Style::Fill(_) => Grade::Anonymising,
            Style::Mosaic(_) | Style::Blur(_) => Grade::Bounded,
        }
    }

    /// Checks the parameters that do not depend on a frame.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Style::Solid(_) | Style::Fill(_) => Ok(()),
            Style::Mosaic(len) => check_length(len, "mosaic block", 2.0),
            Style::Blur(len) => check_length(len, "blur sigma", 1.0),
        }
    }
}

fn check_length(len: Length, what: &str, min_px: f64) -> Result<()> {
    match len {
        Length::Relative(v) if !(v.is_finite() && v > 0.0 && v <= 1.0) => Err(Error::MaskConfig(
            format!("{what} must be a fraction of the frame height in (0, 1], got {v}"),
        )),
        Length::Pixels(v) if !(v.is_finite() && v >= min_px) => Err(Error::MaskConfig(format!(
            "{what} must be at least {min_px} px (smaller ones keep too much detail), got {v}"
        ))),
        Length::Pixels(v) if v > f64::from(crate::format::MAX_DIMENSION) => Err(Error::MaskConfig(
            format!("{what} of {v} px is larger than any frame privmask accepts"),
        )),
        _ => Ok(()),
    }
}

/// A mosaic block edge in luma pixels for a frame `height` rows tall, rounded up to a multiple of
/// `align` (the larger chroma subsampling factor) so luma and chroma grids line up. Relative sizes
/// never resolve below 2 px.
pub fn mosaic_block_px(len: Length, height: u32, align: u32) -> u32 {
    let px = match len {
        Length::Relative(v) => (v * f64::from(height)).ceil().max(2.0),
        Length::Pixels(v) => v.ceil(),
    } as u32;
    px.div_ceil(align) * align
}

/// A blur's sigma in luma pixels for a frame `height` rows tall (relative sizes at least 1 px).
pub fn blur_sigma_px(len: Length, height: u32) -> f64 {
    match len {
        Length::Relative(v) => (v * f64::from(height)).max(1.0),
        Length::Pixels(v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_resolve_and_align() {
        assert_eq!(mosaic_block_px(Length::Pixels(16.0), 1080, 2), 16);
        assert_eq!(mosaic_block_px(Length::Pixels(15.0), 1080, 2), 16);
        assert_eq!(mosaic_block_px(Length::Pixels(15.0), 1080, 1), 15);
        assert_eq!(mosaic_block_px(Length::Relative(0.02), 1080, 2), 22);
        assert_eq!(mosaic_block_px(Length::Relative(0.02), 16, 1), 2);
    }

    #[test]
    fn rejects_weak_parameters() {
        assert!(Style::Mosaic(Length::Pixels(1.0)).validate().is_err());
        assert!(Style::Blur(Length::Pixels(0.5)).validate().is_err());
        assert!(Style::Blur(Length::Relative(f64::NAN)).validate().is_err());
        assert!(Style::Mosaic(Length::Relative(0.0)).validate().is_err());
        assert!(Style::Mosaic(Length::Pixels(2.0)).validate().is_ok());
        assert_eq!(
            Style::Solid(Colour::Yuv([16, 128, 128])).grade(),
            Grade::Anonymising
        );
        assert_eq!(Style::Blur(Length::Pixels(8.0)).grade(), Grade::Bounded);
    }
}
