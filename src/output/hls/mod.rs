//! HLS output: fMP4 segments, LL-HLS parts and live playlists made in
//! memory from the shared H.264 rendition.
//!
//! - [`segmenter`]: sans-IO, access units in, segments and parts out;
//! - [`crate::mp4::fmp4`]: init segment and fragments (`mp4-atom`);
//! - [`playlist`]: the media playlist text;
//! - [`store`]: per-stream state, blocking waits, session life, viewers;
//! - `http`: the routes under `/streams/{id}/hls/`.
//!
//! A stream's HLS session starts with the first request, feeds from the
//! H.264 rendition (so the encoder runs) and ends after `idle_timeout_s`
//! without requests, dropping its segments.

mod http;
pub mod playlist;
pub mod segmenter;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use http::routes;
use segmenter::SegmenterConfig;
use store::{ClientKey, HlsStream, Timing};

use crate::rendition::h264::Renditions;
use crate::stream::{OutputKind, Stream};

/// Clients of this output are counted under `"hls"`.
pub const KIND: OutputKind = OutputKind::new("hls");

/// `[hls]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HlsConfig {
    /// Target segment duration in ms (segments are cut at keyframes).
    pub segment_ms: u64,
    /// Target LL-HLS part duration in ms.
    pub part_ms: u64,
    /// Complete segments listed in the playlist.
    pub window: usize,
    /// Stop feeding the encoder after this many seconds without a request.
    pub idle_timeout_s: u64,
    /// How long a request waits for the first segment before a 503.
    pub first_segment_wait_ms: u64,
    /// How long a blocking playlist reload or part request may wait.
    pub block_timeout_ms: u64,
    /// A client counts as a viewer this many seconds after its last request.
    pub viewer_window_s: u64,
    /// `Cache-Control: max-age` of segments, parts and init segments.
    pub segment_max_age_s: u64,
}

impl Default for HlsConfig {
    fn default() -> Self {
        HlsConfig {
            segment_ms: 2000,
            part_ms: 200,
            window: 6,
            idle_timeout_s: 30,
            first_segment_wait_ms: 6000,
            block_timeout_ms: 6000,
            viewer_window_s: 10,
            segment_max_age_s: 60,
        }
    }
}

impl HlsConfig {
    /// The settings with out-of-range values brought into range.
    fn normalized(&self) -> HlsConfig {
        let segment_ms = self.segment_ms.clamp(500, 30_000);
        HlsConfig {
            segment_ms,
            part_ms: self.part_ms.clamp(50, segment_ms / 2),
            window: self.window.clamp(3, 100),
            idle_timeout_s: self.idle_timeout_s.max(1),
            viewer_window_s: self.viewer_window_s.max(1),
            ..self.clone()
        }
    }

    fn segmenter(&self) -> SegmenterConfig {
        SegmenterConfig {
            segment_target: Duration::from_millis(self.segment_ms),
            part_target: Duration::from_millis(self.part_ms),
            window: self.window,
            keep_after: 2,
            first_number: segmenter::first_number_now(),
        }
    }
}

/// HLS state of every stream.
///
/// Each stream's [`HlsStream`] lives in the stream's derived values.
pub struct Hls {
    cfg: HlsConfig,
    h264: Arc<Renditions>,
}

impl Hls {
    /// HLS for the streams of a server.
    pub fn new(config: &HlsConfig, h264: Arc<Renditions>) -> Arc<Self> {
        Arc::new(Hls {
            cfg: config.normalized(),
            h264,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &HlsConfig {
        &self.cfg
    }

    /// The HLS state of `stream`, noting a request from `client` and
    /// starting the session (encoder feed) when it is not running.
    pub fn touch(
        &self,
        stream: &Arc<Stream>,
        client: ClientKey,
        shutdown: &CancellationToken,
    ) -> Arc<HlsStream> {
        let hs = self.state(stream);
        if hs.touch(client) {
            let feed = self.h264.get(stream).subscribe();
            tokio::spawn(hs.clone().run(feed, shutdown.clone()));
        }
        hs
    }

    /// The state of `stream` (a re-created stream is a new `Stream`, so it
    /// gets fresh state).
    fn state(&self, stream: &Arc<Stream>) -> Arc<HlsStream> {
        let timing = Timing {
            idle: Duration::from_secs(self.cfg.idle_timeout_s),
            viewer_window: Duration::from_secs(self.cfg.viewer_window_s),
        };
        stream.derived(|| HlsStream::new(stream, self.cfg.segmenter(), timing))
    }
}
