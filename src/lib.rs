//! framecast: frames from anywhere, shown live everywhere.
//!
//! Push frames from your own code with a [`Publisher`], or point framecast at
//! a photo folder or a test pattern; watch them over MJPEG, WebSocket, WebRTC
//! (WHEP) and HLS at once. Every frame is encoded once per rendition, however
//! many viewers there are, and each viewer always gets the latest frame.
//!
//! The modules are layers; each imports only the ones below it
//! (docs/architecture.md): `media` → `codec`, `mp4` → `stream` →
//! `rendition`, `process`, `http` → `rtc` → `source`, `output` → `server`.
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod codec;
pub mod error;
pub mod http;
pub mod media;
pub mod mp4;
pub mod output;
pub mod process;
pub mod rendition;
pub mod rtc;
pub mod server;
pub mod source;
pub mod stream;
mod sys;

#[cfg(test)]
mod layers;

pub use error::{Error, ErrorKind, Result};
pub use media::{Frame, FrameData, PixelFormat};
pub use server::config;
pub use server::Server;
pub use stream::{Hub, Publisher, StreamId};
