//! The bytes a frame goes out as, made once per frame and shared by every
//! viewer: `[frameinfo text message][binary header][JPEG]`. Viewers without
//! `frameinfo` start at the binary header.

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use serde_json::json;

use super::codec::{self, OP_BINARY, OP_TEXT};
use crate::stream::{PublishedFrame, Stream};

/// One frame's messages.
#[derive(Debug)]
pub struct WireFrame {
    /// The frame's sequence number.
    pub seq: u64,
    /// The framed `{"type":"frame",…}` text message.
    info: Bytes,
    /// The binary message's header.
    head: Bytes,
    /// The JPEG (the binary message's payload).
    pub jpeg: Bytes,
    /// The messages in pipes to `tee` to each viewer, made on first use:
    /// `[0]` the binary message, `[1]` with the frameinfo message first.
    /// `None` inside when no pipe that large is allowed.
    #[cfg(target_os = "linux")]
    pipes: [std::sync::OnceLock<Option<super::pipe::FramePipe>>; 2],
}

impl WireFrame {
    /// The wire form of `f`, built by the first viewer to ask and shared;
    /// `None` when the frame could not be encoded.
    pub async fn of(
        stream: &Stream,
        f: &std::sync::Arc<PublishedFrame>,
    ) -> Option<std::sync::Arc<WireFrame>> {
        let jpeg = crate::rendition::jpeg::jpeg(stream, f).await.ok()?;
        Some(f.derived(|| WireFrame::build(f, jpeg)))
    }

    fn build(f: &PublishedFrame, jpeg: Bytes) -> WireFrame {
        let info = info_message(f);
        let mut head = BytesMut::with_capacity(10);
        codec::put_header(&mut head, OP_BINARY, jpeg.len());
        let head = head.freeze();
        WireFrame {
            seq: f.seq,
            #[cfg(target_os = "linux")]
            pipes: Default::default(),
            info,
            head,
            jpeg,
        }
    }

    /// The bytes from `start(frameinfo)` on in a pipe, made by the first
    /// caller; `None` when no pipe that large can be made.
    #[cfg(target_os = "linux")]
    pub fn pipe(&self, frameinfo: bool) -> Option<&super::pipe::FramePipe> {
        self.pipes[usize::from(frameinfo)]
            .get_or_init(|| {
                let info: &[u8] = if frameinfo { &self.info } else { &[] };
                frame_pipe(&[info, &self.head, &self.jpeg])
            })
            .as_ref()
    }

    /// Where a viewer starts reading: 0 with `frameinfo`, else the binary header.
    pub fn start(&self, frameinfo: bool) -> u64 {
        if frameinfo {
            0
        } else {
            self.info.len() as u64
        }
    }

    /// Where the bytes end (their total length).
    pub fn end(&self) -> u64 {
        (self.info.len() + self.head.len() + self.jpeg.len()) as u64
    }

    /// The bytes from `offset` on, as slices for a vectored write.
    pub fn slices(&self, offset: u64) -> Vec<IoSlice<'_>> {
        let mut skip = offset as usize;
        let mut out = Vec::with_capacity(3);
        for part in [&self.info, &self.head, &self.jpeg] {
            if skip >= part.len() {
                skip -= part.len();
            } else {
                out.push(IoSlice::new(&part[skip..]));
                skip = 0;
            }
        }
        out
    }

    /// The bytes from `start(frameinfo)` on, as one buffer chain (no copy).
    pub fn buf(&self, frameinfo: bool) -> impl Buf + Send {
        let info = if frameinfo {
            self.info.clone()
        } else {
            Bytes::new()
        };
        info.chain(self.head.clone()).chain(self.jpeg.clone())
    }
}

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

/// `parts` in a pipe, or `None` when no pipe that large can be made (logged
/// once per process; frames then go out by copying).
#[cfg(target_os = "linux")]
fn frame_pipe(parts: &[&[u8]]) -> Option<super::pipe::FramePipe> {
    match super::pipe::FramePipe::new(parts) {
        Ok(p) => Some(p),
        Err(e) => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                let size: usize = parts.iter().map(|p| p.len()).sum();
                tracing::warn!("no pipe for a {size}-byte frame ({e}): WebSocket frames are copied")
            });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> WireFrame {
        WireFrame {
            seq: 1,
            info: Bytes::from_static(b"INFO"),
            head: Bytes::from_static(b"HD"),
            jpeg: Bytes::from_static(b"JPEGDATA"),
            #[cfg(target_os = "linux")]
            pipes: Default::default(),
        }
    }

    fn joined(s: &[IoSlice<'_>]) -> Vec<u8> {
        s.iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn slices_start_anywhere() {
        let w = frame();
        assert_eq!(w.end(), 14);
        assert_eq!(joined(&w.slices(0)), b"INFOHDJPEGDATA");
        assert_eq!(joined(&w.slices(w.start(false))), b"HDJPEGDATA");
        assert_eq!(joined(&w.slices(5)), b"DJPEGDATA");
        assert_eq!(joined(&w.slices(13)), b"A");
        assert!(w.slices(14).is_empty());
    }

    #[test]
    fn buf_matches_the_slices() {
        let w = frame();
        for info in [true, false] {
            let mut b = w.buf(info);
            let bytes = b.copy_to_bytes(b.remaining());
            assert_eq!(bytes.to_vec(), joined(&w.slices(w.start(info))));
        }
    }
}
