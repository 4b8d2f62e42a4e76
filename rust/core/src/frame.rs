//! Mutable views of a frame's planes with a row stride, and of the channels inside them.

use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::format::{check_dimensions, ChannelLayout, PixelFormat};

/// One plane of 8-bit samples: `rows` rows of `row_bytes` bytes, `stride` bytes apart.
///
/// Only the `row_bytes` bytes of each row are ever touched: padding between rows (PyAV's
/// `line_size`) may belong to someone else.
#[derive(Debug)]
pub struct PlaneMut<'a> {
    ptr: *mut u8,
    row_bytes: usize,
    rows: usize,
    stride: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: a `PlaneMut` is an exclusive borrow of its rows (see the constructors), like `&mut [u8]`.
unsafe impl Send for PlaneMut<'_> {}
// SAFETY: shared access only reads through `&self` methods, which touch no samples.
unsafe impl Sync for PlaneMut<'_> {}

impl<'a> PlaneMut<'a> {
    /// Borrows a plane stored in `data` with rows `stride` bytes apart.
    pub fn new(data: &'a mut [u8], row_bytes: usize, rows: usize, stride: usize) -> Result<Self> {
        if stride < row_bytes {
            return Err(Error::FrameFormat(format!(
                "row stride {stride} is smaller than the row width {row_bytes} bytes"
            )));
        }
        let needed = if rows == 0 {
            0
        } else {
            (rows - 1) * stride + row_bytes
        };
        if data.len() < needed {
            return Err(Error::FrameFormat(format!(
                "plane buffer holds {} bytes but {rows} rows of {row_bytes} bytes at stride {stride} need {needed}",
                data.len()
            )));
        }
        Ok(PlaneMut {
            ptr: data.as_mut_ptr(),
            row_bytes,
            rows,
            stride,
            _borrow: PhantomData,
        })
    }

    /// Borrows a plane from raw parts, as a binding does with a strided numpy array.
    ///
    /// # Safety
    /// For every `y < rows`, the `row_bytes` bytes at `ptr + y * stride` must be valid for reads
    /// and writes for `'a`, and nothing else may access them during `'a`. Rows must not overlap
    /// (`stride >= row_bytes`, checked).
    pub unsafe fn from_raw(
        ptr: *mut u8,
        row_bytes: usize,
        rows: usize,
        stride: usize,
    ) -> Result<Self> {
        if stride < row_bytes && rows > 1 {
            return Err(Error::FrameFormat(format!(
                "row stride {stride} is smaller than the row width {row_bytes} bytes; rows would overlap"
            )));
        }
        Ok(PlaneMut {
            ptr,
            row_bytes,
            rows,
            stride,
            _borrow: PhantomData,
        })
    }

    /// Bytes per row that belong to the image.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row `y` (panics when out of range).
    pub fn row_mut(&mut self, y: usize) -> &mut [u8] {
        assert!(y < self.rows, "row {y} out of range ({} rows)", self.rows);
        // SAFETY: the constructor guarantees the `row_bytes` bytes of each row are valid and
        // exclusively ours for 'a; `&mut self` prevents handing out two rows at once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(y * self.stride), self.row_bytes) }
    }

    /// Row `y`, read-only.
    pub fn row(&self, y: usize) -> &[u8] {
        assert!(y < self.rows, "row {y} out of range ({} rows)", self.rows);
        // SAFETY: as for `row_mut`; `&self` gives shared access only.
        unsafe { std::slice::from_raw_parts(self.ptr.add(y * self.stride), self.row_bytes) }
    }
}

/// A whole frame: its format, size and planes, checked against each other.
#[derive(Debug)]
pub struct FrameMut<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: [Option<PlaneMut<'a>>; 3],
}

impl<'a> FrameMut<'a> {
    /// Checks that the planes have exactly the sizes `format` implies for `width` x `height`.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: [Option<PlaneMut<'a>>; 3],
    ) -> Result<Self> {
        check_dimensions(width, height)?;
        let given = planes.iter().filter(|p| p.is_some()).count();
        if given != format.plane_count() || planes.iter().take(given).any(|p| p.is_none()) {
            return Err(Error::FrameFormat(format!(
                "{} frames have {} planes, got {given}",
                format.name(),
                format.plane_count()
            )));
        }
        for (i, p) in planes.iter().flatten().enumerate() {
            let (_, rows) = format.plane_samples(i, width, height);
            let row_bytes = format.plane_row_bytes(i, width, height);
            if p.rows != rows as usize || p.row_bytes != row_bytes {
                return Err(Error::FrameFormat(format!(
                    "plane {i} of a {width}x{height} {} frame must be {rows} rows of {row_bytes} bytes, got {} rows of {} bytes",
                    format.name(),
                    p.rows,
                    p.row_bytes
                )));
            }
        }
        Ok(FrameMut {
            format,
            width,
            height,
            planes,
        })
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in luma pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in luma pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// A view of one channel (luma, or one chroma component) for reading and writing samples.
    pub fn channel(&mut self, layout: ChannelLayout) -> ChannelMut<'_, 'a> {
        let (width, height) = self
            .format
            .plane_samples(layout.plane, self.width, self.height);
        let plane = self.planes[layout.plane]
            .as_mut()
            .expect("validated in FrameMut::new");
        ChannelMut {
            plane,
            offset: layout.offset,
            step: layout.step,
            width,
            height,
        }
    }
}

/// One channel's samples inside a plane: sample `x` of row `y` is byte `offset + x * step`.
#[derive(Debug)]
pub struct ChannelMut<'p, 'a> {
    plane: &'p mut PlaneMut<'a>,
    offset: usize,
    step: usize,
    width: u32,
    height: u32,
}

impl ChannelMut<'_, '_> {
    /// Samples per row.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes between neighbouring samples of a row (1, or 2 when interleaved).
    pub fn step(&self) -> usize {
        self.step
    }

    /// Row `y`, starting at its first sample of this channel; sample `x` is at index `x * step()`.
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let offset = self.offset;
        &mut self.plane.row_mut(y as usize)[offset..]
    }

    /// Row `y`, read-only, as for [`ChannelMut::row_mut`].
    pub fn row(&self, y: u32) -> &[u8] {
        &self.plane.row(y as usize)[self.offset..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_plane_sizes() {
        let mut y = vec![0u8; 8 * 4];
        let mut uv = vec![0u8; 8 * 2];
        let planes = [
            Some(PlaneMut::new(&mut y, 6, 4, 8).unwrap()),
            Some(PlaneMut::new(&mut uv, 6, 2, 8).unwrap()),
            None,
        ];
        assert!(FrameMut::new(PixelFormat::Nv12, 6, 4, planes).is_ok());
        let mut short = vec![0u8; 10];
        assert!(PlaneMut::new(&mut short, 6, 2, 8).is_err());
        let mut y = vec![0u8; 8 * 4];
        let planes = [Some(PlaneMut::new(&mut y, 6, 4, 8).unwrap()), None, None];
        let err = FrameMut::new(PixelFormat::Yuv420p, 6, 4, planes).unwrap_err();
        assert!(err.to_string().contains("3 planes"), "{err}");
    }

    #[test]
    fn interleaved_channels_address_their_own_bytes() {
        let mut y = vec![0u8; 4 * 2];
        let mut uv = vec![0u8; 4];
        {
            let planes = [
                Some(PlaneMut::new(&mut y, 4, 2, 4).unwrap()),
                Some(PlaneMut::new(&mut uv, 4, 1, 4).unwrap()),
                None,
            ];
            let mut f = FrameMut::new(PixelFormat::Nv21, 4, 2, planes).unwrap();
            let v = PixelFormat::Nv21.channels()[2];
            let mut ch = f.channel(v);
            let step = ch.step();
            ch.row_mut(0)[step] = 9;
        }
        assert_eq!(uv, [0, 0, 9, 0]);
    }
}
