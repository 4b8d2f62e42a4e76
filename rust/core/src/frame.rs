//! Mutable views of a frame's planes with a row stride, and of the channels inside them.
//!
//! Planes hold either bytes (8-bit formats) or 16-bit words (10-bit formats); [`Sample`] is the
//! storage type. A channel view converts between stored words and sample values (`p010le` keeps
//! its 10 bits in the high end of each word).

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::error::{Error, Result};
use crate::format::{check_dimensions, ChannelLayout, PixelFormat};
use crate::spans::Spans;

/// The storage type of a plane's samples: `u8` or `u16`.
pub trait Sample: Copy + Send + Sync + 'static {
    /// Bytes per stored sample.
    const BYTES: usize;
    /// The stored word as an integer.
    fn word(self) -> u32;
    /// A stored word from an integer that fits.
    fn from_word(v: u32) -> Self;
    /// The sum of the values of `words` (each shifted down by `shift`).
    fn sum_values(words: &[Self], shift: u32) -> u64;
    /// The words as bytes, for 8-bit storage (where the SIMD kernels apply).
    fn as_bytes_mut(words: &mut [Self]) -> Option<&mut [u8]>;
    /// As [`Sample::as_bytes_mut`], read-only.
    fn as_bytes(words: &[Self]) -> Option<&[u8]>;
    /// Calls `f` with this thread's scratch row of at least `len` words (contents unspecified),
    /// grown on demand and kept, so steady state allocates nothing. Not re-entrant.
    fn with_scratch_row<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

thread_local! {
    static ROW_U8: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static ROW_U16: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

fn with_row<T: Copy + Default, R>(
    cell: &RefCell<Vec<T>>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let mut row = cell.borrow_mut();
    if row.len() < len {
        row.resize(len, T::default());
    }
    f(&mut row[..len])
}

impl Sample for u8 {
    const BYTES: usize = 1;
    fn word(self) -> u32 {
        u32::from(self)
    }
    fn from_word(v: u32) -> Self {
        v as u8
    }
    fn sum_values(words: &[Self], _shift: u32) -> u64 {
        crate::simd::sum_u8(words)
    }
    fn as_bytes_mut(words: &mut [Self]) -> Option<&mut [u8]> {
        Some(words)
    }
    fn as_bytes(words: &[Self]) -> Option<&[u8]> {
        Some(words)
    }
    fn with_scratch_row<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        ROW_U8.with(|cell| with_row(cell, len, f))
    }
}

impl Sample for u16 {
    const BYTES: usize = 2;
    fn word(self) -> u32 {
        u32::from(self)
    }
    fn from_word(v: u32) -> Self {
        v as u16
    }
    fn sum_values(words: &[Self], shift: u32) -> u64 {
        words.iter().map(|&w| u64::from(w >> shift)).sum()
    }
    fn as_bytes_mut(_words: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn as_bytes(_words: &[Self]) -> Option<&[u8]> {
        None
    }
    fn with_scratch_row<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
        ROW_U16.with(|cell| with_row(cell, len, f))
    }
}

/// One plane: `rows` rows of `row_len` samples, `stride` samples apart.
///
/// Only the `row_len` samples of each row are ever touched: padding between rows (PyAV's
/// `line_size`) may belong to someone else.
#[derive(Debug)]
pub struct PlaneMut<'a, T: Sample = u8> {
    ptr: *mut T,
    row_len: usize,
    rows: usize,
    stride: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `PlaneMut` is an exclusive borrow of its rows (see the constructors), like `&mut [T]`.
unsafe impl<T: Sample> Send for PlaneMut<'_, T> {}
// SAFETY: shared access only reads, through `&self` methods.
unsafe impl<T: Sample> Sync for PlaneMut<'_, T> {}

impl<'a, T: Sample> PlaneMut<'a, T> {
    /// Borrows a plane stored in `data` with rows `stride` samples apart.
    pub fn new(data: &'a mut [T], row_len: usize, rows: usize, stride: usize) -> Result<Self> {
        if stride < row_len {
            return Err(Error::FrameFormat(format!(
                "row stride {stride} is smaller than the row width {row_len} samples"
            )));
        }
        let needed = if rows == 0 {
            0
        } else {
            (rows - 1) * stride + row_len
        };
        if data.len() < needed {
            return Err(Error::FrameFormat(format!(
                "plane buffer holds {} samples but {rows} rows of {row_len} at stride {stride} need {needed}",
                data.len()
            )));
        }
        Ok(PlaneMut {
            ptr: data.as_mut_ptr(),
            row_len,
            rows,
            stride,
            _borrow: PhantomData,
        })
    }

    /// Borrows a plane from raw parts, as a binding does with a strided numpy array.
    ///
    /// # Safety
    /// For every `y < rows`, the `row_len` samples at `ptr + y * stride` must be valid and
    /// aligned for reads and writes for `'a`, and nothing else may access them during `'a`.
    /// Rows must not overlap (`stride >= row_len`, checked).
    pub unsafe fn from_raw(
        ptr: *mut T,
        row_len: usize,
        rows: usize,
        stride: usize,
    ) -> Result<Self> {
        if stride < row_len && rows > 1 {
            return Err(Error::FrameFormat(format!(
                "row stride {stride} is smaller than the row width {row_len} samples; rows would overlap"
            )));
        }
        Ok(PlaneMut {
            ptr,
            row_len,
            rows,
            stride,
            _borrow: PhantomData,
        })
    }

    /// Samples per row that belong to the image.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row `y` (panics when out of range).
    pub fn row_mut(&mut self, y: usize) -> &mut [T] {
        assert!(y < self.rows, "row {y} out of range ({} rows)", self.rows);
        // SAFETY: the constructor guarantees the `row_len` samples of each row are valid and
        // exclusively ours for 'a; `&mut self` prevents handing out two rows at once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(y * self.stride), self.row_len) }
    }

    /// Row `y`, read-only.
    pub fn row(&self, y: usize) -> &[T] {
        assert!(y < self.rows, "row {y} out of range ({} rows)", self.rows);
        // SAFETY: as for `row_mut`; `&self` gives shared access only.
        unsafe { std::slice::from_raw_parts(self.ptr.add(y * self.stride), self.row_len) }
    }
}

/// A whole frame: its format, size and planes, checked against each other.
#[derive(Debug)]
pub struct FrameMut<'a, T: Sample = u8> {
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: [Option<PlaneMut<'a, T>>; 3],
}

impl<'a, T: Sample> FrameMut<'a, T> {
    /// Checks that the planes have exactly the sizes and sample type `format` implies for
    /// `width` x `height`.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: [Option<PlaneMut<'a, T>>; 3],
    ) -> Result<Self> {
        check_dimensions(width, height)?;
        if T::BYTES != format.bytes_per_sample() {
            return Err(Error::FrameFormat(format!(
                "{} frames store {}-byte samples, got {}-byte planes",
                format.name(),
                format.bytes_per_sample(),
                T::BYTES
            )));
        }
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
            let row_len = format.plane_row_len(i, width, height);
            if p.rows != rows as usize || p.row_len != row_len {
                return Err(Error::FrameFormat(format!(
                    "plane {i} of a {width}x{height} {} frame must be {rows} rows of {row_len} samples, got {} rows of {}",
                    format.name(),
                    p.rows,
                    p.row_len
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

    /// As [`FrameMut::new`], taking the frame size from plane 0 (its rows, and its row length
    /// over the samples interleaved per pixel).
    pub fn from_planes(format: PixelFormat, planes: [Option<PlaneMut<'a, T>>; 3]) -> Result<Self> {
        let (len, rows) = planes[0].as_ref().map_or((0, 0), |p| (p.row_len, p.rows));
        let per_pixel = format.plane_row_len(0, 1, 1);
        let width = u32::try_from(len / per_pixel).unwrap_or(u32::MAX);
        let height = u32::try_from(rows).unwrap_or(u32::MAX);
        if len % per_pixel != 0 {
            return Err(Error::FrameFormat(format!(
                "plane 0 rows of a {} frame hold {per_pixel} samples per pixel; {len} is not a multiple",
                format.name()
            )));
        }
        Self::new(format, width, height, planes)
    }

    /// The pixel format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// A view of one channel (luma, one chroma component, or one of R, G, B).
    pub fn channel(&mut self, layout: ChannelLayout) -> ChannelMut<'_, T> {
        let (format, width, height) = (self.format, self.width, self.height);
        let plane = self.planes[layout.plane]
            .as_mut()
            .expect("validated in FrameMut::new");
        channel_of(plane, layout, format, width, height)
    }

    /// Every channel at once, when each has a plane of its own (planar formats): views of
    /// disjoint memory, so they can be worked on from different threads; channel `i` at index
    /// `i`. `None` for formats that interleave channels in one plane (`nv12`, `p010le`, packed
    /// RGB).
    #[allow(clippy::type_complexity)]
    pub fn planar_channels(&mut self) -> Option<[Option<ChannelMut<'_, T>>; 3]> {
        let layouts = self.format.channels();
        if layouts.iter().enumerate().any(|(i, l)| l.plane != i) {
            return None;
        }
        let (format, width, height) = (self.format, self.width, self.height);
        let mut i = 0;
        Some(self.planes.each_mut().map(|plane| {
            let layout = layouts.get(i).copied();
            i += 1;
            match (plane, layout) {
                (Some(plane), Some(layout)) => {
                    Some(channel_of(plane, layout, format, width, height))
                }
                _ => None,
            }
        }))
    }
}

/// The view of one channel in its plane.
fn channel_of<'p, T: Sample>(
    plane: &'p mut PlaneMut<'_, T>,
    layout: ChannelLayout,
    format: PixelFormat,
    width: u32,
    height: u32,
) -> ChannelMut<'p, T> {
    let (width, height) = format.plane_samples(layout.plane, width, height);
    let (shift, max) = (format.shift(), (1 << format.depth()) - 1);
    ChannelMut {
        // SAFETY: `offset` is within the first row (the layout's offsets are below its step).
        ptr: unsafe { plane.ptr.add(layout.offset) },
        stride: plane.stride,
        row_len: plane.row_len - layout.offset,
        step: layout.step,
        width,
        height,
        rows: (0, height),
        shift,
        max,
        _borrow: PhantomData,
    }
}

/// One channel's samples inside a plane: sample `x` of row `y` is word `x * step` of the row, and
/// its value is the word shifted down by `shift`. A view may be limited to a range of rows, so that
/// disjoint bands of one channel can be processed on different threads.
#[derive(Debug)]
pub struct ChannelMut<'p, T: Sample = u8> {
    ptr: *mut T,
    stride: usize,
    row_len: usize,
    step: usize,
    width: u32,
    height: u32,
    rows: (u32, u32),
    shift: u32,
    max: u32,
    _borrow: PhantomData<&'p mut [T]>,
}

// SAFETY: a `ChannelMut` is an exclusive borrow of the words of its rows that belong to the
// channel; views made by `split_at_row` cover disjoint rows.
unsafe impl<T: Sample> Send for ChannelMut<'_, T> {}
// SAFETY: through `&self` the view only reads.
unsafe impl<T: Sample> Sync for ChannelMut<'_, T> {}

impl<T: Sample> ChannelMut<'_, T> {
    /// Samples per row.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Rows of the whole channel.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The rows `[first, end)` this view may touch.
    pub fn rows(&self) -> (u32, u32) {
        self.rows
    }

    /// Words between neighbouring samples of a row (1, 2 when interleaved, 3 for packed RGB).
    pub fn step(&self) -> usize {
        self.step
    }

    /// Bits a value is shifted up inside its word (6 for `p010le`).
    pub fn shift(&self) -> u32 {
        self.shift
    }

    /// The largest sample value (255, or 1023 for 10-bit formats).
    pub fn max_value(&self) -> u32 {
        self.max
    }

    /// A view of the same rows for a shorter time: the original is usable again when it ends.
    pub fn reborrow(&mut self) -> ChannelMut<'_, T> {
        ChannelMut {
            _borrow: PhantomData,
            ..*self
        }
    }

    /// Splits the view into the rows before `y` and the rows from `y` on.
    pub fn split_at_row(self, y: u32) -> (Self, Self) {
        assert!(
            self.rows.0 <= y && y <= self.rows.1,
            "row {y} outside {:?}",
            self.rows
        );
        let mut upper = ChannelMut {
            _borrow: PhantomData,
            ..self
        };
        let mut lower = ChannelMut {
            _borrow: PhantomData,
            ..self
        };
        upper.rows.1 = y;
        lower.rows.0 = y;
        (upper, lower)
    }

    /// Row `y`, starting at its first sample of this channel; sample `x` is at index `x * step()`.
    /// Panics when `y` is outside the view's rows.
    pub fn row_mut(&mut self, y: u32) -> &mut [T] {
        assert!(
            self.rows.0 <= y && y < self.rows.1,
            "row {y} outside {:?}",
            self.rows
        );
        // SAFETY: rows inside the view are valid and exclusively ours (see `FrameMut::channel`
        // and `split_at_row`); `&mut self` prevents handing out two rows at once.
        unsafe {
            std::slice::from_raw_parts_mut(self.ptr.add(y as usize * self.stride), self.row_len)
        }
    }

    /// Rows ahead of the one being worked on that [`ChannelMut::prefetch_runs`] is meant for.
    pub const PREFETCH_AHEAD: u32 = 4;

    /// Starts loading the first two cache lines of each covered run of row `y` (nothing when the
    /// row is outside the view). A covered run is a piece of a row on a page of its own: the
    /// hardware prefetchers only pick it up after a few misses, so kernels call this a few rows
    /// ahead. Changes no result.
    #[inline]
    pub fn prefetch_runs(&self, y: u32, spans: &Spans) {
        if y < self.rows.0 || y >= self.rows.1 {
            return;
        }
        // SAFETY: row `y` is inside the view; only addresses are formed here, nothing is read.
        let row = unsafe { self.ptr.add(y as usize * self.stride) };
        let line = 64 / std::mem::size_of::<T>();
        for &(a, b) in spans.row(y) {
            let (a, b) = (a as usize * self.step, (b as usize - 1) * self.step + 1);
            for x in (a..b).step_by(line).take(2) {
                crate::simd::prefetch(row.wrapping_add(x));
            }
        }
    }

    /// Row `y`, read-only, as for [`ChannelMut::row_mut`].
    pub fn row(&self, y: u32) -> &[T] {
        assert!(
            self.rows.0 <= y && y < self.rows.1,
            "row {y} outside {:?}",
            self.rows
        );
        // SAFETY: as for `row_mut`; `&self` gives shared access only.
        unsafe { std::slice::from_raw_parts(self.ptr.add(y as usize * self.stride), self.row_len) }
    }

    /// The value of a stored word.
    #[inline]
    pub fn value(&self, word: T) -> u32 {
        word.word() >> self.shift
    }

    /// The stored word for a value.
    #[inline]
    pub fn word(&self, value: u32) -> T {
        T::from_word(value << self.shift)
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
    fn sample_type_must_match_the_format() {
        let mut y = vec![0u8; 4];
        let planes = [Some(PlaneMut::new(&mut y, 2, 2, 2).unwrap()), None, None];
        let err = FrameMut::new(PixelFormat::P010le, 2, 2, planes).unwrap_err();
        assert!(err.to_string().contains("2-byte"), "{err}");
    }

    #[test]
    fn interleaved_channels_address_their_own_samples() {
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

    #[test]
    fn p010_values_live_in_the_high_bits() {
        let mut y = vec![0u16; 4];
        let mut uv = vec![0u16; 2];
        let planes = [
            Some(PlaneMut::new(&mut y, 2, 2, 2).unwrap()),
            Some(PlaneMut::new(&mut uv, 2, 1, 2).unwrap()),
            None,
        ];
        let mut f = FrameMut::new(PixelFormat::P010le, 2, 2, planes).unwrap();
        let ch = f.channel(PixelFormat::P010le.channels()[0]);
        assert_eq!(ch.word(1023), 0xFFC0);
        assert_eq!(ch.value(0xFFC0), 1023);
    }
}
