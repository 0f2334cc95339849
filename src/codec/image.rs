//! Image files (JPEG, PNG) to frames: decoding, EXIF orientation, letterboxing.
//!
//! (Filled in by the gallery work.)
