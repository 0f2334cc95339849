//! Configuration: `framecast.toml` (serde, unknown keys rejected) and defaults.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! queue = 10
//! jpeg_quality = 80
//!
//! [push]
//! allow_create = "localhost"   # "localhost" | "always" | "never"
//! max_frame_bytes = 33554432
//!
//! [[stream]]
//! id = "demo"
//! source = "pattern"           # "pattern" | "gallery" | "push"  (see `SourceConfig`)
//! [stream.pattern]
//! width = 1280
//! height = 720
//! fps = 30
//! ```

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::source::push::PushConfig;
use crate::source::SourceConfig;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listen address (127.0.0.1:8080).
    pub listen: SocketAddr,
    /// Default publisher queue length, in frames.
    pub queue: usize,
    /// Kernel send buffer per TCP connection, bytes (0 = the OS's autotuning).
    /// Small enough that a stalled viewer resumes near the live edge, not
    /// behind megabytes of old frames; large enough for HLS segments.
    pub tcp_send_buffer: usize,
    /// JPEG quality for encoded frames, 1-100.
    pub jpeg_quality: u8,
    /// Async worker threads of the `framecast` binary (0 = half the cores,
    /// at least 1). Encoding runs on separate blocking threads, so these
    /// only move bytes; fewer of them wake each other less
    /// (docs/design/0003-websocket-framing.md).
    pub workers: usize,
    /// Publishing over HTTP and WebSocket.
    pub push: PushConfig,
    /// WebRTC transport.
    pub webrtc: crate::rtc::RtcConfig,
    /// The shared H.264 encoder.
    pub h264: crate::rendition::h264::H264Config,
    /// HLS output.
    pub hls: crate::output::hls::HlsConfig,
    /// Streams to create at start-up.
    #[serde(rename = "stream")]
    pub streams: Vec<StreamConfig>,
}

impl Config {
    /// The number of async worker threads to run: `workers`, or half the
    /// cores (at least 1) when it is 0.
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.div_ceil(2)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            queue: 10,
            tcp_send_buffer: 256 * 1024,
            jpeg_quality: crate::codec::jpeg::DEFAULT_QUALITY,
            workers: 0,
            push: PushConfig::default(),
            webrtc: Default::default(),
            h264: Default::default(),
            hls: Default::default(),
            streams: Vec::new(),
        }
    }
}

/// One `[[stream]]` table: an id, a queue length, and what feeds it.
///
/// What feeds it is `source = "…"` plus that source's own table
/// (`[stream.pattern]`, `[stream.gallery]` …), read as [`SourceConfig`].
#[derive(Debug, Clone, Deserialize)]
pub struct StreamConfig {
    /// The stream id (`[A-Za-z0-9_-]{1,64}`).
    pub id: String,
    /// Queue length for this stream (frames).
    pub queue: Option<usize>,
    /// What feeds it, with its settings.
    #[serde(flatten)]
    pub source: SourceConfig,
}

impl Config {
    /// Parse TOML text; errors name the bad key and its line.
    pub fn from_toml(text: &str) -> Result<Config> {
        let cfg: Config =
            toml::from_str(text).map_err(|e| Error::bad_request(describe(text, &e)))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read and parse a TOML file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::from(e).context(format!("reading {}", path.display())))?;
        Config::from_toml(&text).map_err(|e| e.context(path.display()))
    }

    /// Check what serde cannot: ids, duplicates, source settings.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.streams {
            crate::stream::StreamId::parse(&s.id).map_err(|e| e.context("[[stream]] id"))?;
            if !seen.insert(s.id.as_str()) {
                return Err(Error::bad_request(format!(
                    "stream {:?} is configured twice",
                    s.id
                )));
            }
            s.source
                .validate()
                .map_err(|e| e.context(format!("stream {:?}", s.id)))?;
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(Error::bad_request("jpeg_quality must be between 1 and 100"));
        }
        Ok(())
    }
}

/// A listen address as people write it: `127.0.0.1:8080`, `[::1]:8080`,
/// `localhost:8080`, `:8080` (every interface, as go2rtc and MediaMTX read
/// it) or a bare port `8080` (loopback, the safe default host).
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = || {
        Error::bad_request(format!(
            "cannot listen on {text:?}: write HOST:PORT (127.0.0.1:8080, localhost:8080), :PORT for every interface, or PORT"
        ))
    };
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Some(port) = text.strip_prefix(':') {
        let port = port.parse::<u16>().map_err(|_| bad())?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    use std::net::ToSocketAddrs;
    let mut addrs: Vec<SocketAddr> = text.to_socket_addrs().map_err(|_| bad())?.collect();
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs.into_iter().next().ok_or_else(bad)
}

fn describe(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim();
    match e.span() {
        Some(span) => {
            let at = key_position(text, span.start, msg).unwrap_or(span.start);
            let line = text[..at.min(text.len())].matches('\n').count() + 1;
            format!("config error at line {line}: {msg}")
        }
        None => format!("config error: {msg}"),
    }
}

/// Where the unknown key that `msg` names is, at or after `from`: errors
/// inside a `[[stream]]` point at the table's header (serde reads the
/// source's keys through a buffer that loses their place), so look for it.
fn key_position(text: &str, from: usize, msg: &str) -> Option<usize> {
    let key = msg.strip_prefix("unknown field `")?.split('`').next()?;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let rest = line.trim_start().strip_prefix(key);
        if offset >= from && rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.push.allow_create,
            crate::source::push::AllowCreate::Localhost
        );
    }

    #[test]
    fn listen_addresses_as_people_write_them() {
        let p = |s| parse_listen(s).map(|a| a.to_string());
        assert_eq!(p("127.0.0.1:9000").unwrap(), "127.0.0.1:9000");
        assert_eq!(p("8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(p(":8080").unwrap(), "0.0.0.0:8080");
        assert_eq!(p("localhost:8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(p("[::1]:8080").unwrap(), "[::1]:8080");
        for bad in ["", ":", "host", ":99999", "localhost:x"] {
            let e = parse_listen(bad).unwrap_err();
            assert!(
                e.message().contains("HOST:PORT"),
                "{bad:?}: {}",
                e.message()
            );
        }
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = Config::from_toml("queue = 5\n\n[push]\nallow_creat = \"always\"\n").unwrap_err();
        assert!(e.message().contains("line 4"), "{}", e.message());
        assert!(e.message().contains("allow_creat"), "{}", e.message());
    }

    #[test]
    fn streams_are_checked() {
        let ok = "[[stream]]\nid = \"a\"\nsource = \"pattern\"\n[stream.pattern]\nfps = 10\n";
        assert_eq!(Config::from_toml(ok).unwrap().streams.len(), 1);
        let dup = "[[stream]]\nid = \"a\"\nsource = \"push\"\n[[stream]]\nid = \"a\"\nsource = \"push\"\n";
        assert!(Config::from_toml(dup)
            .unwrap_err()
            .message()
            .contains("twice"));
        let bad = "[[stream]]\nid = \"a b\"\nsource = \"push\"\n";
        assert!(Config::from_toml(bad).is_err());
        let gal = "[[stream]]\nid = \"g\"\nsource = \"gallery\"\n[stream.gallery]\ndir = \"/photos\"\ninterval_ms = 500\n";
        let SourceConfig::Gallery { gallery: g } =
            &Config::from_toml(gal).unwrap().streams[0].source
        else {
            panic!("a gallery source");
        };
        assert_eq!(g.interval, std::time::Duration::from_millis(500));
        let typo = "[[stream]]\nid = \"g\"\nsource = \"gallery\"\n[stream.gallery]\ndir = \"/p\"\nintervl_ms = 5\n";
        assert!(Config::from_toml(typo)
            .unwrap_err()
            .message()
            .contains("line 6"));
        let nogal = "[[stream]]\nid = \"g\"\nsource = \"gallery\"\n";
        assert!(Config::from_toml(nogal)
            .unwrap_err()
            .message()
            .contains("gallery"));
    }
}
