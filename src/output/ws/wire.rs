//! The bytes a frame goes out as: an optional `frameinfo` text message, then
//! the binary message holding the JPEG.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;

use super::codec::{self, OP_BINARY, OP_TEXT};
use crate::stream::PublishedFrame;

/// The `{"type":"frame",…}` text message that precedes a JPEG with
/// `?frameinfo=1`, framed.
fn info_message(f: &PublishedFrame) -> Bytes {
    let text = json!({
        "type": "frame", "seq": f.seq, "pts_ms": f.pts_ms(), "ts_us": f.published_unix_us,
        "width": f.frame.width(), "height": f.frame.height(),
    })
    .to_string();
    codec::small_frame(OP_TEXT, text.as_bytes())
}

/// Everything before the JPEG's bytes: the info message if asked for, and
/// the binary frame's header.
pub fn head(f: &PublishedFrame, info: bool, jpeg_len: usize) -> Bytes {
    let mut head = BytesMut::with_capacity(192);
    if info {
        head.put_slice(&info_message(f));
    }
    codec::put_header(&mut head, OP_BINARY, jpeg_len);
    head.freeze()
}

/// A frame's messages in a sealed memfd, made once per frame and sent to
/// every viewer with `sendfile`: `[info message][binary header][JPEG]`.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct Wire {
    /// The bytes.
    pub file: super::sealed::SealedFile,
    /// Where the binary message starts (viewers without `frameinfo` start there).
    pub info_len: u64,
}

#[cfg(target_os = "linux")]
impl Wire {
    /// Build it, or `None` (logged once per process) when memfds are unavailable.
    pub fn build(f: &PublishedFrame, jpeg: &[u8]) -> Option<Wire> {
        let info = info_message(f);
        let mut binary = BytesMut::with_capacity(10);
        codec::put_header(&mut binary, OP_BINARY, jpeg.len());
        match super::sealed::SealedFile::new(&[&info, &binary, jpeg]) {
            Ok(file) => Some(Wire {
                file,
                info_len: info.len() as u64,
            }),
            Err(e) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!("memfd unavailable ({e}): WebSocket frames are copied")
                });
                None
            }
        }
    }
}
