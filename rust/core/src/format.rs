//! Pixel formats and the plane layout each one implies.

use crate::error::{Error, Result};

/// Largest frame edge privmask accepts, in pixels.
///
/// Bounded so that the rasteriser's exact integer arithmetic never overflows (see `raster`).
pub const MAX_DIMENSION: u32 = 16384;

/// The 8-bit pixel formats privmask composites on.
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
}

impl PixelFormat {
    /// Every supported format, in a stable order.
    pub const ALL: [PixelFormat; 7] = [
        PixelFormat::Gray,
        PixelFormat::Yuv420p,
        PixelFormat::Yuvj420p,
        PixelFormat::Yuv422p,
        PixelFormat::Yuv444p,
        PixelFormat::Nv12,
        PixelFormat::Nv21,
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
        }
    }

    /// Chroma subsampling factors `(horizontal, vertical)`; `(1, 1)` for formats without chroma.
    pub fn subsampling(self) -> (u32, u32) {
        match self {
            PixelFormat::Gray | PixelFormat::Yuv444p => (1, 1),
            PixelFormat::Yuv422p => (2, 1),
            PixelFormat::Yuv420p
            | PixelFormat::Yuvj420p
            | PixelFormat::Nv12
            | PixelFormat::Nv21 => (2, 2),
        }
    }

    /// Whether the format implies full-range samples (FFmpeg's `yuvj*` formats).
    pub fn implies_full_range(self) -> bool {
        matches!(self, PixelFormat::Yuvj420p)
    }

    /// Number of separate buffers (planes) a frame of this format has.
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::Gray => 1,
            PixelFormat::Nv12 | PixelFormat::Nv21 => 2,
            _ => 3,
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
        match self {
            PixelFormat::Gray => &GRAY,
            PixelFormat::Nv12 => &NV12,
            PixelFormat::Nv21 => &NV21,
            _ => &PLANAR,
        }
    }

    /// Size in samples `(width, height)` of the channels stored in `plane` for a `width` x `height`
    /// frame. Chroma sizes round up, as FFmpeg does for odd frame sizes.
    pub fn plane_samples(self, plane: usize, width: u32, height: u32) -> (u32, u32) {
        if plane == 0 {
            return (width, height);
        }
        let (sx, sy) = self.subsampling();
        (width.div_ceil(sx), height.div_ceil(sy))
    }

    /// Bytes a row of `plane` needs at the least (samples times interleaving).
    pub fn plane_row_bytes(self, plane: usize, width: u32, height: u32) -> usize {
        let (w, _) = self.plane_samples(plane, width, height);
        let interleave = if plane == 1 && matches!(self, PixelFormat::Nv12 | PixelFormat::Nv21) {
            2
        } else {
            1
        };
        w as usize * interleave
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
        assert_eq!(PixelFormat::Nv12.plane_row_bytes(1, 33, 21), 34);
    }

    #[test]
    fn rejects_empty_and_huge_frames() {
        assert!(check_dimensions(0, 10).is_err());
        assert!(check_dimensions(16385, 10).is_err());
        assert!(check_dimensions(1, 1).is_ok());
    }
}
