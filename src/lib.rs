//! framecast: frames from anywhere, shown live everywhere.
//!
//! Push frames from your own code with a [`Publisher`], or point framecast at
//! a photo folder or a test pattern; watch them over MJPEG, WebSocket, WebRTC
//! (WHEP) and HLS at once. Every frame is encoded once per rendition, however
//! many viewers there are, and each viewer always gets the latest frame.
#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod error;
pub mod frame;
pub mod http;
pub mod metrics;
pub mod output;
pub mod rtc;
pub mod server;
pub mod source;
pub mod stream;
pub mod sys;

pub use error::{Error, ErrorKind, Result};
pub use frame::{Frame, FrameData, PixelFormat};
pub use server::Server;
pub use stream::{Hub, Publisher, StreamId};
