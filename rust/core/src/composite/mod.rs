//! The compositors: each rewrites the covered samples of one channel, in place.
//!
//! They are infallible and allocate nothing (the blur borrows a per-thread scratch buffer that is
//! only ever grown), so once a frame has been validated a mask is applied whole.

pub mod blur;
pub mod fill;
pub mod mosaic;
pub mod solid;
