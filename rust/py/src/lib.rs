//! `privmask._native`: thin PyO3 bindings over `privmask-core`.
//!
//! Each function extracts and validates its arguments while attached to the interpreter, then
//! detaches around the kernel. Core errors map one-to-one to the exception classes defined in
//! `privmask.errors`.

use std::sync::Arc;

use numpy::{
    Element, PyArray2, PyArrayMethods, PyReadonlyArray2, PyReadwriteArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use privmask_core::{
    frame::Sample, Colour, ColourSpace, CompiledMasks, Error, FrameMut, Length, MaskSpec, Matrix,
    MotionDetector, MotionParams, PixelFormat, PlaneMut, Polygon, Style,
};

pyo3::import_exception!(privmask.errors, InvalidGeometryError);
pyo3::import_exception!(privmask.errors, FrameFormatError);
pyo3::import_exception!(privmask.errors, MaskConfigError);
pyo3::import_exception!(privmask.errors, SettingsError);

fn to_py(e: Error) -> PyErr {
    match e {
        Error::InvalidGeometry(m) => InvalidGeometryError::new_err(m),
        Error::FrameFormat(m) => FrameFormatError::new_err(m),
        Error::MaskConfig(m) => MaskConfigError::new_err(m),
        Error::OutOfMemory(m) => PyMemoryError::new_err(m),
    }
}

/// `repr(obj)`, cut short: an argument named in an error message can be a 400-digit integer.
fn short_repr(obj: &Bound<'_, PyAny>) -> String {
    let r = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".to_string());
    if r.chars().count() > 40 {
        let head: String = r.chars().take(20).collect();
        format!("{head}... ({} characters)", r.chars().count())
    } else {
        r
    }
}

/// A Python integer (not a bool) of any size, as `i64`; `None` when it does not fit (then it is
/// out of every range privmask accepts).
fn wide_int(obj: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if obj.is_instance_of::<PyBool>() {
        return Err(PyValueError::new_err(format!(
            "expected an integer, got {}",
            short_repr(obj)
        )));
    }
    match obj.extract::<i64>() {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Ok(None),
        Err(_) => Err(PyValueError::new_err(format!(
            "expected an integer, got {}",
            short_repr(obj)
        ))),
    }
}

/// A frame width or height: an integer from 1 to `MAX_DIMENSION`, else `FrameFormatError`
/// naming the value.
fn dimension(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u32> {
    let max = privmask_core::format::MAX_DIMENSION;
    let bad = |detail: &str| {
        FrameFormatError::new_err(format!(
            "frame {what} {}{detail}; it must be an integer from 1 to {max}",
            short_repr(obj)
        ))
    };
    match wide_int(obj) {
        Ok(Some(v)) if (1..=i64::from(max)).contains(&v) => Ok(v as u32),
        Ok(_) => Err(bad(" is out of range")),
        Err(_) => Err(bad(" is not an integer")),
    }
}

/// Polygon vertices from any sequence of pairs of numbers: at most `MAX_VERTICES` of them
/// (checked before anything is allocated; the buffer itself is allocated fallibly), each
/// coordinate converted to a float (an integer too large for one is refused, naming it).
fn vertices(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(f64, f64)>> {
    use privmask_core::geometry::MAX_VERTICES;
    let not_pairs = || InvalidGeometryError::new_err("vertices must be a sequence of (x, y) pairs");
    let n = obj.len().map_err(|_| not_pairs())?;
    if n > MAX_VERTICES {
        return Err(InvalidGeometryError::new_err(format!(
            "a polygon has at most {MAX_VERTICES} vertices, got {n}"
        )));
    }
    // At most MAX_VERTICES: the usual extraction allocates little; it fails on anything odd,
    // which the loop below then names.
    if let Ok(out) = obj.extract::<Vec<(f64, f64)>>() {
        return Ok(out);
    }
    let mut out: Vec<(f64, f64)> = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| PyMemoryError::new_err(format!("cannot allocate {n} vertices")))?;
    for (i, item) in obj.try_iter().map_err(|_| not_pairs())?.enumerate() {
        if i >= n {
            return Err(not_pairs()); // the sequence grew while being read
        }
        let item = item?;
        let pair = || {
            InvalidGeometryError::new_err(format!(
                "vertex {i} must be a pair of numbers (x, y), got {}",
                short_repr(&item)
            ))
        };
        if item.len().map_err(|_| pair())? != 2 {
            return Err(pair());
        }
        let mut xy = [0.0; 2];
        for (k, name) in ["x", "y"].into_iter().enumerate() {
            let v = item.get_item(k).map_err(|_| pair())?;
            xy[k] = match v.extract::<f64>() {
                Ok(f) => f,
                Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                    return Err(InvalidGeometryError::new_err(format!(
                        "vertex {i}: {name} = {} is too large for a coordinate",
                        short_repr(&v)
                    )))
                }
                Err(_) => return Err(pair()),
            };
        }
        out.push((xy[0], xy[1]));
    }
    Ok(out)
}

fn parse_matrix(name: Option<&str>) -> PyResult<Option<Matrix>> {
    match name {
        None => Ok(None),
        Some("bt601") => Ok(Some(Matrix::Bt601)),
        Some("bt709") => Ok(Some(Matrix::Bt709)),
        Some(other) => Err(FrameFormatError::new_err(format!(
            "unknown colour matrix {other:?}; use \"bt601\" or \"bt709\""
        ))),
    }
}

fn parse_style(kind: &str, params: &[f64]) -> PyResult<Style> {
    let byte = |v: f64| -> PyResult<u8> {
        if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
            Ok(v as u8)
        } else {
            Err(MaskConfigError::new_err(format!(
                "colour components must be integers 0-255, got {v}"
            )))
        }
    };
    let triple = || -> PyResult<[u8; 3]> {
        match params {
            [a, b, c] => Ok([byte(*a)?, byte(*b)?, byte(*c)?]),
            _ => Err(PyValueError::new_err("a colour needs exactly 3 components")),
        }
    };
    let one = || -> PyResult<f64> {
        match params {
            [v] => Ok(*v),
            _ => Err(PyValueError::new_err(format!(
                "style {kind:?} takes exactly one parameter"
            ))),
        }
    };
    let style = match kind {
        "solid_rgb" => Style::Solid(Colour::Rgb(triple()?)),
        "solid_yuv" => Style::Solid(Colour::Yuv(triple()?)),
        "mosaic_rel" => Style::Mosaic(Length::Relative(one()?)),
        "mosaic_px" => Style::Mosaic(Length::Pixels(one()?)),
        "blur_rel" => Style::Blur(Length::Relative(one()?)),
        "blur_px" => Style::Blur(Length::Pixels(one()?)),
        "fill" if params.is_empty() => Style::Fill(None),
        "fill" => Style::Fill(Some(Colour::Rgb(triple()?))),
        other => {
            return Err(MaskConfigError::new_err(format!(
                "unknown style kind {other:?}"
            )))
        }
    };
    style.validate().map_err(to_py)?;
    Ok(style)
}

/// Masks compiled for one frame geometry; immutable and shareable across threads.
#[pyclass(frozen, name = "CompiledMasks", module = "privmask._native")]
pub struct PyCompiledMasks {
    inner: Arc<CompiledMasks>,
}

#[pymethods]
impl PyCompiledMasks {
    /// Frame width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.inner.width()
    }

    /// Frame height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.inner.height()
    }

    /// Pixel format name.
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format().name()
    }

    /// Colour matrix used for RGB colours ("bt601" or "bt709").
    #[getter]
    fn matrix(&self) -> &'static str {
        match self.inner.colour_space().matrix {
            Matrix::Bt601 => "bt601",
            Matrix::Bt709 => "bt709",
        }
    }

    /// Whether RGB colours were converted to full-range samples.
    #[getter]
    fn full_range(&self) -> bool {
        self.inner.colour_space().full_range
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "CompiledMasks({} masks, {}x{} {})",
            self.inner.len(),
            self.inner.width(),
            self.inner.height(),
            self.inner.format().name()
        )
    }

    /// Applies the masks in place to a frame given as its planes (2-D arrays of uint8, or uint16
    /// for 10-bit formats, with unit sample stride). Checks everything first: on error nothing is
    /// written. `parallel=False` keeps the work on the calling thread (for pipelines whose other
    /// stages already use the cores).
    #[pyo3(signature = (planes, lifted = false, parallel = true))]
    fn apply_planes(
        &self,
        py: Python<'_>,
        planes: Vec<Bound<'_, PyAny>>,
        lifted: bool,
        parallel: bool,
    ) -> PyResult<()> {
        let format = self.inner.format();
        if planes.len() != format.plane_count() {
            return Err(FrameFormatError::new_err(format!(
                "{} frames have {} planes, got {}",
                format.name(),
                format.plane_count(),
                planes.len()
            )));
        }
        if format.bytes_per_sample() == 2 {
            apply_typed::<u16>(py, &self.inner, &planes, lifted, parallel, "uint16")
        } else {
            apply_typed::<u8>(py, &self.inner, &planes, lifted, parallel, "uint8")
        }
    }

    /// The luma cover of the masks that apply, as a bool array (height, width).
    #[pyo3(signature = (lifted = false))]
    fn coverage<'py>(&self, py: Python<'py>, lifted: bool) -> PyResult<Bound<'py, PyArray2<bool>>> {
        let spans = self.inner.coverage(lifted).map_err(to_py)?;
        let out =
            PyArray2::<bool>::zeros(py, [spans.height() as usize, spans.width() as usize], false);
        {
            let mut rw = out.readwrite();
            let mut view = rw.as_array_mut();
            for y in 0..spans.height() {
                for &(a, b) in spans.row(y) {
                    for x in a..b {
                        view[[y as usize, x as usize]] = true;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Borrows the planes as `T` arrays, checks their layout, and applies the masks without the GIL.
fn apply_typed<T: Element + Sample>(
    py: Python<'_>,
    masks: &Arc<CompiledMasks>,
    planes: &[Bound<'_, PyAny>],
    lifted: bool,
    parallel: bool,
    dtype: &str,
) -> PyResult<()> {
    let format = masks.format();
    let mut borrows: Vec<PyReadwriteArray2<'_, T>> = Vec::with_capacity(planes.len());
    for (i, p) in planes.iter().enumerate() {
        let arr = p.cast::<PyArray2<T>>().map_err(|_| {
            FrameFormatError::new_err(format!(
                "plane {i} must be a 2-D numpy array of dtype {dtype} for {} frames",
                format.name()
            ))
        })?;
        let rw = arr.try_readwrite().map_err(|_| {
            FrameFormatError::new_err(format!(
                "plane {i} is read-only or already borrowed; pass a writeable array (e.g. a copy)"
            ))
        })?;
        borrows.push(rw);
    }
    let size = std::mem::size_of::<T>() as isize;
    let mut views: [Option<PlaneMut<'_, T>>; 3] = [None, None, None];
    for (i, rw) in borrows.iter_mut().enumerate() {
        let (shape, strides) = (rw.shape().to_vec(), rw.strides().to_vec());
        if shape[1] > 1 && strides[1] != size {
            return Err(FrameFormatError::new_err(format!(
                "plane {i} has a sample stride of {} bytes; samples in a row must be contiguous ({size} bytes apart)",
                strides[1]
            )));
        }
        if shape[0] > 1 && (strides[0] < shape[1] as isize * size || strides[0] % size != 0) {
            return Err(FrameFormatError::new_err(format!(
                "plane {i} has a row stride of {} bytes for rows of {} bytes; rows must not overlap, run backwards or split a sample",
                strides[0],
                shape[1] as isize * size
            )));
        }
        let ptr = rw.as_array_mut().as_mut_ptr();
        if (ptr as usize) % std::mem::align_of::<T>() != 0 {
            return Err(FrameFormatError::new_err(format!(
                "plane {i} is not aligned to its {dtype} samples"
            )));
        }
        // SAFETY: numpy guarantees the `shape[1]` samples of each of the `shape[0]` rows at
        // `ptr + y * strides[0]` belong to this array (alignment checked above); the read-write
        // borrow held in `borrows` until after the kernel returns makes them exclusively ours.
        let plane = unsafe {
            PlaneMut::from_raw(ptr, shape[1], shape[0], (strides[0] / size).max(0) as usize)
        };
        views[i] = Some(plane.map_err(to_py)?);
    }
    let mut frame = FrameMut::from_planes(format, views).map_err(to_py)?;
    let masks = Arc::clone(masks);
    py.detach(move || {
        if parallel {
            masks.apply(&mut frame, lifted)
        } else {
            privmask_core::parallel::serial(|| masks.apply(&mut frame, lifted))
        }
    })
    .map_err(to_py)?;
    drop(borrows);
    Ok(())
}

/// Compiles masks for frames of one geometry. `masks` is a sequence of `(vertices, style kind,
/// style parameters, liftable)`.
#[pyfunction]
#[pyo3(signature = (masks, width, height, format, matrix = None, full_range = None))]
fn compile(
    py: Python<'_>,
    masks: &Bound<'_, PyAny>,
    width: &Bound<'_, PyAny>,
    height: &Bound<'_, PyAny>,
    format: &str,
    matrix: Option<&str>,
    full_range: Option<bool>,
) -> PyResult<PyCompiledMasks> {
    let (width, height) = (dimension(width, "width")?, dimension(height, "height")?);
    let format = PixelFormat::parse(format).map_err(to_py)?;
    let matrix = parse_matrix(matrix)?;
    let space = (matrix.is_some() || full_range.is_some()).then(|| ColourSpace {
        matrix: matrix.unwrap_or(Matrix::for_height(height)),
        full_range: full_range.unwrap_or(format.implies_full_range()),
    });
    let mut specs = Vec::new();
    for (i, m) in masks.try_iter()?.enumerate() {
        let m = m?;
        let at = |e: PyErr| {
            let msg = e.value(py).to_string();
            if e.is_instance_of::<PyMemoryError>(py) {
                e
            } else if e.is_instance_of::<InvalidGeometryError>(py) {
                InvalidGeometryError::new_err(format!("masks[{i}].polygon: {msg}"))
            } else {
                MaskConfigError::new_err(format!("masks[{i}]: {msg}"))
            }
        };
        let (points, kind, params, liftable): (Bound<'_, PyAny>, String, Vec<f64>, bool) =
            m.extract().map_err(|_| {
                MaskConfigError::new_err(format!(
                    "masks[{i}] must be (vertices, style kind, style parameters, liftable)"
                ))
            })?;
        let polygon = Polygon::new(vertices(&points).map_err(at)?).map_err(|e| at(to_py(e)))?;
        let style = parse_style(&kind, &params).map_err(|e| {
            let msg = e.value(py).to_string();
            MaskConfigError::new_err(format!("masks[{i}].style: {msg}"))
        })?;
        specs.push(MaskSpec {
            polygon,
            style,
            liftable,
        });
    }
    let compiled = py
        .detach(move || CompiledMasks::compile(&specs, width, height, format, space))
        .map_err(to_py)?;
    Ok(PyCompiledMasks {
        inner: Arc::new(compiled),
    })
}

/// The sample values (by component: Y, U, V or R, G, B) a solid colour writes on frames of
/// `format` coded with `matrix` and range.
#[pyfunction]
#[pyo3(signature = (kind, values, format, matrix, full_range))]
fn colour_samples(
    kind: &str,
    values: (u8, u8, u8),
    format: &str,
    matrix: &str,
    full_range: bool,
) -> PyResult<(u32, u32, u32)> {
    let format = PixelFormat::parse(format).map_err(to_py)?;
    let matrix = parse_matrix(Some(matrix))?.unwrap_or(Matrix::Bt601);
    let triple = [values.0, values.1, values.2];
    let colour = match kind {
        "rgb" => Colour::Rgb(triple),
        "yuv" => Colour::Yuv(triple),
        other => {
            return Err(PyValueError::new_err(format!(
                "colour kind must be \"rgb\" or \"yuv\", got {other:?}"
            )))
        }
    };
    let [a, b, c] = colour.samples(format, ColourSpace { matrix, full_range });
    Ok((a, b, c))
}

/// Checks polygon vertices (at most 10,000, finite, at least 3 distinct, not all collinear).
#[pyfunction]
fn validate_polygon(points: &Bound<'_, PyAny>) -> PyResult<()> {
    Polygon::new(vertices(points)?).map(|_| ()).map_err(to_py)
}

/// Checks a style's kind and parameters.
#[pyfunction]
fn validate_style(kind: &str, params: Vec<f64>) -> PyResult<()> {
    parse_style(kind, &params).map(|_| ())
}

/// Sets how many threads the compositors use (1 keeps all work on the calling thread).
#[pyfunction]
fn set_threads(threads: &Bound<'_, PyAny>) -> PyResult<()> {
    use privmask_core::parallel::MAX_THREADS;
    match wide_int(threads) {
        Ok(Some(n)) if n >= 1 && n as u64 <= MAX_THREADS as u64 => {
            privmask_core::parallel::set_threads(n as usize).map_err(to_py)
        }
        _ => Err(SettingsError::new_err(format!(
            "the thread count must be an integer from 1 to {MAX_THREADS}, got {}",
            short_repr(threads)
        ))),
    }
}

/// How many threads the compositors use.
#[pyfunction]
fn threads() -> usize {
    privmask_core::parallel::threads()
}

/// The SIMD level the kernels use ("scalar", "sse41", "avx2" or "neon").
#[pyfunction]
fn simd_level() -> &'static str {
    privmask_core::simd::level().name()
}

/// The SIMD levels this CPU supports, slowest first.
#[pyfunction]
fn simd_levels() -> Vec<&'static str> {
    privmask_core::simd::Level::supported()
        .into_iter()
        .map(|l| l.name())
        .collect()
}

/// Forces a SIMD level (for tests and benchmarks); one the CPU lacks is refused.
#[pyfunction]
fn set_simd_level(name: &str) -> PyResult<()> {
    let level = privmask_core::simd::Level::parse(name).map_err(to_py)?;
    privmask_core::simd::set_level(level).map_err(to_py)
}

/// The supported pixel format names.
#[pyfunction]
fn formats() -> Vec<&'static str> {
    PixelFormat::ALL.iter().map(|f| f.name()).collect()
}

/// The pixel-format table the core works from, for Python to derive its own facts from:
/// `name -> (subsampling (x, y), samples interleaved per plane, bytes per sample, bit depth,
/// left shift of the samples within their words, is RGB, implies full range)`.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn format_table() -> Vec<(
    &'static str,
    (u32, u32),
    Vec<usize>,
    usize,
    u32,
    u32,
    bool,
    bool,
)> {
    PixelFormat::ALL
        .iter()
        .map(|&f| {
            // Interleave of each plane: stored samples per row over channel samples per row.
            let interleave = (0..f.plane_count())
                .map(|p| f.plane_row_len(p, 2, 2) / f.plane_samples(p, 2, 2).0 as usize)
                .collect();
            (
                f.name(),
                f.subsampling(),
                interleave,
                f.bytes_per_sample(),
                f.depth(),
                f.shift(),
                f.is_rgb(),
                f.implies_full_range(),
            )
        })
        .collect()
}

/// Borrows a 2-D uint8 array as one slice with a row stride (PyAV planes are padded views).
fn plane_slice<'a>(arr: &'a PyReadonlyArray2<'_, u8>, what: &str) -> PyResult<(&'a [u8], usize)> {
    let (shape, strides) = (arr.shape(), arr.strides());
    let (rows, cols) = (shape[0], shape[1]);
    if rows == 0 || cols == 0 {
        return Err(FrameFormatError::new_err(format!("{what} is empty")));
    }
    if cols > 1 && strides[1] != 1 {
        return Err(FrameFormatError::new_err(format!(
            "{what} has a sample stride of {} bytes; samples in a row must be contiguous",
            strides[1]
        )));
    }
    let stride = if rows > 1 { strides[0] } else { cols as isize };
    if stride < cols as isize {
        return Err(FrameFormatError::new_err(format!(
            "{what} has a row stride of {stride} bytes for rows of {cols}; rows must not overlap \
             or run backwards"
        )));
    }
    let stride = stride as usize;
    let ptr = arr.as_array().as_ptr();
    // SAFETY: numpy guarantees that the `cols` samples of each of the `rows` rows, at
    // `ptr + y * stride`, belong to the array (unit sample stride and a forward row stride
    // checked above), so the span from the first to the last sample lies in one allocation; the
    // read-only borrow `arr` keeps it alive and unchanged for the lifetime of the slice.
    let slice = unsafe { std::slice::from_raw_parts(ptr, (rows - 1) * stride + cols) };
    Ok((slice, stride))
}

/// A box in luma pixels, `(x0, y0, x1, y1)` with exclusive ends.
type PixelBox = (u32, u32, u32, u32);

/// A motion detector: a running-average background model of one camera's luma plane, giving the
/// boxes (in luma pixels) of what moves. Holds state, so one per stream and one thread at a time.
#[pyclass(name = "MotionDetector", module = "privmask._native")]
pub struct PyMotionDetector {
    inner: MotionDetector,
}

#[pymethods]
impl PyMotionDetector {
    #[new]
    #[pyo3(signature = (
        width, height, *, scale = 4, merge_frames = 50.0, threshold = 18.0, open_radius = 1,
        dilate_radius = 2, min_cells = 4, warmup_frames = 5
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        width: &Bound<'_, PyAny>,
        height: &Bound<'_, PyAny>,
        scale: u32,
        merge_frames: f32,
        threshold: f32,
        open_radius: u32,
        dilate_radius: u32,
        min_cells: u32,
        warmup_frames: u32,
    ) -> PyResult<Self> {
        let (width, height) = (dimension(width, "width")?, dimension(height, "height")?);
        let params = MotionParams {
            scale,
            merge_frames,
            threshold,
            open_radius,
            dilate_radius,
            min_cells,
            warmup_frames,
        };
        let inner = MotionDetector::new(width, height, params).map_err(to_py)?;
        Ok(PyMotionDetector { inner })
    }

    /// Frame width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.inner.width()
    }

    /// Frame height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.inner.height()
    }

    /// Frames seen since creation or the last reset.
    #[getter]
    fn frames(&self) -> u64 {
        self.inner.frames()
    }

    /// Forgets the background: the next frames are learning frames again.
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// Sets the area where motion is not reported (uint8 array (height, width), nonzero =
    /// excluded; e.g. the permanent masks' exclusion map).
    fn set_exclusion(&mut self, excluded: PyReadonlyArray2<'_, u8>) -> PyResult<()> {
        self.check_shape(&excluded, "the exclusion map")?;
        let (slice, stride) = plane_slice(&excluded, "the exclusion map")?;
        self.inner.set_exclusion(slice, stride).map_err(to_py)
    }

    /// Takes the next luma plane (uint8 (height, width), rows may be padded) and returns
    /// `(learning, boxes)`: boxes `(x0, y0, x1, y1)` in luma pixels, largest first. While
    /// `learning` is true the boxes mean nothing and the whole frame must be masked.
    fn process(
        &mut self,
        py: Python<'_>,
        luma: PyReadonlyArray2<'_, u8>,
    ) -> PyResult<(bool, Vec<PixelBox>)> {
        self.check_shape(&luma, "the luma plane")?;
        let (slice, stride) = plane_slice(&luma, "the luma plane")?;
        let inner = &mut self.inner;
        py.detach(move || {
            inner.process(slice, stride).map(|r| {
                let boxes = r.boxes.iter().map(|b| (b.x0, b.y0, b.x1, b.y1)).collect();
                (r.learning, boxes)
            })
        })
        .map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!(
            "MotionDetector({}x{}, {} frames seen)",
            self.inner.width(),
            self.inner.height(),
            self.inner.frames()
        )
    }
}

impl PyMotionDetector {
    fn check_shape(&self, arr: &PyReadonlyArray2<'_, u8>, what: &str) -> PyResult<()> {
        let shape = arr.shape();
        let (w, h) = (self.inner.width() as usize, self.inner.height() as usize);
        if shape != [h, w] {
            return Err(FrameFormatError::new_err(format!(
                "{what} has shape {shape:?}; this detector takes ({h}, {w}) arrays"
            )));
        }
        Ok(())
    }
}

/// The Python module.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{
        colour_samples, compile, format_table, formats, set_simd_level, set_threads, simd_level,
        simd_levels, threads, validate_polygon, validate_style, PyCompiledMasks, PyMotionDetector,
    };

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
