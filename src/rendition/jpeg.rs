//! The JPEG rendition: each published frame as JPEG, encoded at most once,
//! on a blocking thread, by the first viewer that asks (MJPEG, snapshot,
//! WebSocket); every other viewer waits for and shares that result. A frame
//! that arrived as JPEG is passed through untouched. Nothing is encoded for
//! a frame nobody asks for.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::codec::jpeg;
use crate::error::{Error, Result};
use crate::media::FrameData;
use crate::stream::{PublishedFrame, Stream};

/// A frame's JPEG, kept in the frame's derived values.
#[derive(Default)]
struct JpegCell(OnceCell<Bytes>);

/// `frame` (a frame of `stream`) as JPEG at the stream's quality.
pub async fn jpeg(stream: &Stream, frame: &Arc<PublishedFrame>) -> Result<Bytes> {
    if let FrameData::Jpeg(b) = frame.frame.data() {
        return Ok(b.clone());
    }
    let cell = frame.derived(JpegCell::default);
    let encode = || async {
        let pixels = frame.frame.clone();
        let quality = stream.jpeg_quality();
        stream.stats.jpeg_encodes.fetch_add(1, Relaxed);
        tokio::task::spawn_blocking(move || jpeg::encode(&pixels, quality))
            .await
            .map_err(|e| Error::internal("JPEG encoder task failed").with_source(e))?
    };
    cell.0.get_or_try_init(encode).await.cloned()
}
