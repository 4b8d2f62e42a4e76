//! The errors of the core; the bindings map each variant to its own Python class.

use std::fmt;

/// What went wrong, by the kind of input at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A polygon that cannot be rasterised (NaN or infinite coordinates, too few vertices, no area).
    InvalidGeometry(String),
    /// A frame or plane that does not match its declared format (size, stride, buffer length).
    FrameFormat(String),
    /// A style parameter out of range (mosaic block under 2 px, blur sigma under 1 px, ...).
    MaskConfig(String),
    /// Memory for a buffer that grows with the input (vertices, covered runs) could not be had.
    OutOfMemory(String),
}

/// `Result` with the core's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidGeometry(m)
            | Error::FrameFormat(m)
            | Error::MaskConfig(m)
            | Error::OutOfMemory(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
