//! privmask-core: privacy masks rasterised from polygons and composited on YUV planes.
//!
//! Data flows one way: [`geometry::Polygon`] (normalised coordinates) → [`raster::rasterize`]
//! (conservative coverage as [`spans::Spans`], runs per row) → [`compile::CompiledMasks`]
//! (spans per plane, block and cell partitions) → [`compile::CompiledMasks::apply`]
//! (compositors writing in place).
//!
//! The semantics are those of the project's design contract: a pixel is covered iff its square
//! meets the polygon's interior (nonzero rule) with positive area; a chroma sample iff any luma
//! pixel it co-sites is; masks apply in list order. No Python here: `cargo test` covers it alone.

pub mod blocks;
pub mod color;
pub mod compile;
pub mod composite;
pub mod error;
pub mod exact;
pub mod format;
pub mod frame;
pub mod geometry;
pub mod motion;
pub mod parallel;
pub mod raster;
pub mod simd;
pub mod spans;
pub mod style;

pub use color::{ColourSpace, Matrix};
pub use compile::{CompiledMasks, MaskSpec};
pub use error::{Error, Result};
pub use format::PixelFormat;
pub use frame::{FrameMut, PlaneMut};
pub use geometry::Polygon;
pub use motion::{MotionBox, MotionDetector, MotionParams};
pub use style::{Colour, Grade, Length, Style};
