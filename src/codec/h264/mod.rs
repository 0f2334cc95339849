//! H.264: the encoder, the decoder, and the one bitstream toolkit ([`nal`]).

pub mod decode;
pub mod encode;
pub mod nal;

pub use decode::H264Decoder;
pub use encode::{EncoderSettings, FrameRef, H264Encoder};
