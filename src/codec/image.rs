//! Image files (JPEG, PNG) to frames: decoding, EXIF orientation, letterboxing.
//!
//! (Filled in by the gallery work.)

use crate::error::{Error, Result};
use crate::frame::Frame;

/// Decode a PNG into a frame (temporary: the gallery work replaces this).
pub fn decode_png(_data: &[u8], _max_pixels: usize) -> Result<Frame> {
    Err(Error::new(
        crate::ErrorKind::UnsupportedMediaType,
        "PNG decoding is not available yet",
    ))
}
