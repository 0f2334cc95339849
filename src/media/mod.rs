//! The vocabulary every layer speaks: frames and pixel formats, encoded
//! access units, metadata messages, colour conversion and drawing.
//!
//! Plain data and pure functions: no tokio, no codec libraries, no I/O.
//! Everything above (codecs, the bus, renditions, outputs) builds on these.

mod au;
pub mod colour;
pub mod draw;
mod frame;
pub mod glyphs;
mod metadata;

pub use au::AccessUnit;
pub use frame::{Frame, FrameData, PixelFormat, MAX_DIMENSION};
pub use metadata::MetadataMessage;
