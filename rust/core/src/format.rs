//! Pixel formats and the plane layout each one implies.

use crate::error::{Error, Result};

/// Largest frame edge privmask accepts, in pixels.
///
/// Bounded so that the rasteriser's exact integer arithmetic never overflows (see `raster`).
pub const MAX_DIMENSION: u32 = 16384;

/// The pixel formats privmask composites on: 8-bit planar and semi-planar YUV, 10-bit YUV in
/// 16-bit containers, and packed 8-bit RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Luma only.
    Gray,
    /// Planar Y, U, V with 2x2 chroma subsampling (limited range unless told otherwise).
    Yuv420p,
    /// As `Yuv420p`, full ("JPEG") range.
    Yuvj420p,
    /// Planar Y, U, V with 2x1 chroma subsampling.
    Yuv422p,
    /// Planar Y, U, V without subsampling.
    Yuv444p,
    /// Y plane, then one plane of interleaved U, V at 2x2 subsampling.
    Nv12,
    /// Y plane, then one plane of interleaved V, U at 2x2 subsampling.
    Nv21,
    /// As `Yuv420p` with 10-bit samples in the low bits of little-endian 16-bit words.
    Yuv420p10le,
    /// As `Nv12` with 10-bit samples in the high bits of little-endian 16-bit words.
    P010le,
    /// Packed R, G, B bytes (OpenCV pipelines hold BGR).
    Rgb24,
    /// Packed B, G, R bytes.
    Bgr24,
}

/// One colour channel as it lies in memory: which plane, where in each row, and how far apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelLayout {
    /// Index of the plane (buffer) holding the channel.
    pub plane: usize,
    /// Byte offset of the channel's first sample in each row.
    pub offset: usize,
    /// Distance in bytes between two samples of the channel within a row (1, or 2 when interleaved).
    pub step: usize,
    /// Which component the channel carries.
    pub component: Component,
}

/// The component a channel carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Component {
    /// Luma.
    Y,
    /// Blue-difference chroma.
    U,
    /// Red-difference chroma.
    V,
    /// Red (packed RGB formats).
    R,
    /// Green.
    G,
    /// Blue.
    B,
}

impl Component {
    /// Index of the component's value in a colour triple: Y/R 0, U/G 1, V/B 2.
    pub fn index(self) -> usize {
        match self {
            Component::Y | Component::R => 0,
            Component::U | Component::G => 1,
            Component::V | Component::B => 2,
        }
    }

    /// Whether the channel has one sample per pixel (luma and RGB) rather than being subsampled.
    pub fn is_full_resolution(self) -> bool {
        !matches!(self, Component::U | Component::V)
    }
}

impl PixelFormat {
    /// Every supported format, in a stable order.
    pub const ALL: [PixelFormat; 11] = [
        PixelFormat::Gray,
        PixelFormat::Yuv420p,
        PixelFormat::Yuvj420p,
        PixelFormat::Yuv422p,
        PixelFormat::Yuv444p,
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::Yuv420p10le,
        PixelFormat::P010le,
        PixelFormat::Rgb24,
        PixelFormat::Bgr24,
    ];

    /// Parses an FFmpeg pixel-format name (`"yuv420p"`, `"nv12"`, ...).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                Error::FrameFormat(format!(
                    "unsupported pixel format {name:?}; supported: {}",
                    known.join(", ")
                ))
            })
    }

    /// The FFmpeg name of the format.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Gray => "gray",
            PixelFormat::Yuv420p => "yuv420p",
            PixelFormat::Yuvj420p => "yuvj420p",
            PixelFormat::Yuv422p => "yuv422p",
            PixelFormat::Yuv444p => "yuv444p",
            PixelFormat::Nv12 => "nv12",
            PixelFormat::Nv21 => "nv21",
            PixelFormat::Yuv420p10le => "yuv420p10le",
            PixelFormat::P010le => "p010le",
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Bgr24 => "bgr24",
        }
    }

    /// Bits per sample value (8 or 10).
    pub fn depth(self) -> u32 {
        match self {
            PixelFormat::Yuv420p10le | PixelFormat::P010le => 10,
            _ => 8,
        }
    }

    /// Bytes per stored sample: 1, or 2 for the 10-bit formats' 16-bit words.
    pub fn bytes_per_sample(self) -> usize {
        if self.depth() > 8 {
            2
        } else {
            1
        }
    }

    /// How far a sample value is shifted up inside its word (6 for `p010le`, else 0).
    pub fn shift(self) -> u32 {
        match self {
            PixelFormat::P010le => 6,
            _ => 0,
        }
    }

    /// Whether samples are R, G, B rather than Y, U, V.
    pub fn is_rgb(self) -> bool {
        matches!(self, PixelFormat::Rgb24 | PixelFormat::Bgr24)
    }

    /// Chroma subsampling factors `(horizontal, vertical)`; `(1, 1)` for formats without chroma.
    pub fn subsampling(self) -> (u32, u32) {
        match self {
            PixelFormat::Gray | PixelFormat::Yuv444p | PixelFormat::Rgb24 | PixelFormat::Bgr24 => {
                (1, 1)
            }
            PixelFormat::Yuv422p => (2, 1),
            PixelFormat::Yuv420p
            | PixelFormat::Yuvj420p
            | PixelFormat::Nv12
            | PixelFormat::Nv21
            | PixelFormat::Yuv420p10le
            | PixelFormat::P010le => (2, 2),
        }
    }

    /// Whether the format implies full-range samples (FFmpeg's `yuvj*` formats).
    pub fn implies_full_range(self) -> bool {
        matches!(self, PixelFormat::Yuvj420p)
    }

    /// Number of separate buffers (planes) a frame of this format has.
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::Gray | PixelFormat::Rgb24 | PixelFormat::Bgr24 => 1,
            PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::P010le => 2,
            _ => 3,
        }
    }

    /// Samples interleaved per pixel in `plane` (2 for a semi-planar chroma plane, 3 for packed
    /// RGB, else 1).
    fn interleave(self, plane: usize) -> usize {
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3,
            PixelFormat::Nv12 | PixelFormat::Nv21 | PixelFormat::P010le if plane == 1 => 2,
            _ => 1,
        }
    }

    /// The channels of the format, luma first.
    pub fn channels(self) -> &'static [ChannelLayout] {
        const fn ch(
            plane: usize,
            offset: usize,
            step: usize,
            component: Component,
        ) -> ChannelLayout {
            ChannelLayout {
                plane,
                offset,
                step,
                component,
            }
        }
        const GRAY: [ChannelLayout; 1] = [ch(0, 0, 1, Component::Y)];
        const PLANAR: [ChannelLayout; 3] = [
            ch(0, 0, 1, Component::Y),
            ch(1, 0, 1, Component::U),
            ch(2, 0, 1, Component::V),
        ];
        const NV12: [ChannelLayout; 3] = [
            ch(0, 0, 1, Component::Y),
            ch(1, 0, 2, Component::U),
            ch(1, 1, 2, Component::V),
        ];
        const NV21: [ChannelLayout; 3] = [
            ch(0, 0, 1, Component::Y),
            ch(1, 1, 2, Component::U),
            ch(1, 0, 2, Component::V),
        ];
        const RGB: [ChannelLayout; 3] = [
            ch(0, 0, 3, Component::R),
            ch(0, 1, 3, Component::G),
            ch(0, 2, 3, Component::B),
        ];
        const BGR: [ChannelLayout; 3] = [
            ch(0, 2, 3, Component::R),
            ch(0, 1, 3, Component::G),
            ch(0, 0, 3, Component::B),
        ];
        match self {
            PixelFormat::Gray => &GRAY,
            PixelFormat::Nv12 | PixelFormat::P010le => &NV12,
            PixelFormat::Nv21 => &NV21,
            PixelFormat::Rgb24 => &RGB,
            PixelFormat::Bgr24 => &BGR,
            PixelFormat::Yuv420p
            | PixelFormat::Yuvj420p
            | PixelFormat::Yuv422p
            | PixelFormat::Yuv444p
            | PixelFormat::Yuv420p10le => &PLANAR,
        }
    }

    /// Size in samples `(width, height)` of the channels stored in `plane` for a `width` x `height`
    /// frame. Chroma sizes round up, as FFmpeg does for odd frame sizes.
    pub fn plane_samples(self, plane: usize, width: u32, height: u32) -> (u32, u32) {
        if plane == 0 || self.is_rgb() {
            return (width, height);
        }
        let (sx, sy) = self.subsampling();
        (width.div_ceil(sx), height.div_ceil(sy))
    }

    /// Stored samples (bytes, or 16-bit words for 10-bit formats) in a row of `plane`: samples
    /// per channel times the channels interleaved in it.
    pub fn plane_row_len(self, plane: usize, width: u32, height: u32) -> usize {
        let (w, _) = self.plane_samples(plane, width, height);
        w as usize * self.interleave(plane)
    }
}

/// Checks a frame size against the limits privmask supports.
pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::FrameFormat(format!(
            "frame size {width}x{height} is empty; width and height must be at least 1"
        )));
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(Error::FrameFormat(format!(
            "frame size {width}x{height} exceeds the supported maximum of {MAX_DIMENSION} per side"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in PixelFormat::ALL {
            assert_eq!(PixelFormat::parse(f.name()).unwrap(), f);
        }
        let err = PixelFormat::parse("rgb48").unwrap_err();
        assert!(err.to_string().contains("yuv420p"), "{err}");
    }

    #[test]
    fn odd_sizes_round_chroma_up() {
        assert_eq!(PixelFormat::Yuv420p.plane_samples(1, 33, 21), (17, 11));
        assert_eq!(PixelFormat::Yuv422p.plane_samples(2, 33, 21), (17, 21));
        assert_eq!(PixelFormat::Yuv444p.plane_samples(1, 33, 21), (33, 21));
        assert_eq!(PixelFormat::Nv12.plane_row_len(1, 33, 21), 34);
        assert_eq!(PixelFormat::P010le.plane_row_len(1, 33, 21), 34);
        assert_eq!(PixelFormat::Rgb24.plane_row_len(0, 33, 21), 99);
        assert_eq!(PixelFormat::Yuv420p10le.plane_samples(2, 33, 21), (17, 11));
        assert_eq!(
            (PixelFormat::P010le.depth(), PixelFormat::P010le.shift()),
            (10, 6)
        );
    }

    #[test]
    fn rejects_empty_and_huge_frames() {
        assert!(check_dimensions(0, 10).is_err());
        assert!(check_dimensions(16385, 10).is_err());
        assert!(check_dimensions(1, 1).is_ok());
    }
}
