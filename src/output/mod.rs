//! Outputs: how viewers watch a stream.

pub mod h264;
pub mod hls;
pub mod mjpeg;
pub mod pacing;
pub mod snapshot;
pub mod whep;
pub mod ws;
