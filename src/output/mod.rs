//! Outputs: every way to watch a stream. Each defines its routes (generic
//! over the app's state, taking only the parts it uses) and the
//! [`crate::stream::OutputKind`] its viewers are counted under.
//!
//! - [`mjpeg`]: `multipart/x-mixed-replace` JPEG;
//! - [`snapshot`]: the latest frame as one JPEG;
//! - [`ws`]: WebSocket, binary JPEG frames and metadata text;
//! - [`whep`]: WebRTC playback, the glue from the H.264 rendition to `rtc`;
//! - [`hls`]: HLS and LL-HLS from the H.264 rendition.

pub mod hls;
pub mod mjpeg;
pub mod pacing;
pub mod snapshot;
pub mod whep;
pub mod ws;
