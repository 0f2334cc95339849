//! Codecs: blocking CPU work on pixels and bitstreams. JPEG encode and
//! decode, image files (PNG, EXIF, letterboxing), and H.264 encode, decode
//! and the bitstream toolkit. Callers run these on blocking threads.

pub mod h264;
pub mod image;
pub mod jpeg;
pub mod jpeg_encode;

/// Run a decoder that might panic on hostile input, turning a panic into an error.
///
/// Third-party decoders are fuzzed but not proven; input must never panic the server.
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(crate::Error::bad_request(format!(
            "{what}: the decoder rejected this input"
        ))),
    }
}
