//! Prometheus metrics in text exposition format, read from the live counters.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::stream::Hub;

/// Render every stream's counters.
pub fn render(hub: &Hub) -> String {
    let streams = hub.list();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let per = |f: &dyn Fn(&crate::stream::Stream) -> String| {
        streams
            .iter()
            .map(|s| (format!("stream=\"{}\"", s.id()), f(s)))
            .collect::<Vec<_>>()
    };
    family(
        "framecast_frames_in_total",
        "counter",
        "Frames published.",
        per(&|s| s.stats.frames_in.load(Relaxed).to_string()),
    );
    family(
        "framecast_frames_dropped_total",
        "counter",
        "Frames dropped before publishing.",
        per(&|s| s.stats.frames_dropped.load(Relaxed).to_string()),
    );
    family(
        "framecast_jpeg_encodes_total",
        "counter",
        "JPEG encodes (at most one per frame).",
        per(&|s| s.stats.jpeg_encodes.load(Relaxed).to_string()),
    );
    family(
        "framecast_h264_encodes_total",
        "counter",
        "H.264 pictures encoded (one per encoded frame, shared by all viewers).",
        per(&|s| s.stats.h264_encodes.load(Relaxed).to_string()),
    );
    family(
        "framecast_bytes_out_total",
        "counter",
        "Media bytes sent to viewers.",
        per(&|s| s.stats.bytes_out.load(Relaxed).to_string()),
    );
    family(
        "framecast_zero_copy_sends_total",
        "counter",
        "WebSocket frames sent by tee and splice from a pipe (no send copy).",
        per(&|s| s.stats.zero_copy_sends.load(Relaxed).to_string()),
    );
    family(
        "framecast_fps",
        "gauge",
        "Recent frames per second.",
        per(&|s| format!("{:.2}", s.stats.fps(tokio::time::Instant::now()))),
    );
    let kinds = hub.outputs();
    let viewers = streams
        .iter()
        .flat_map(|s| {
            let counts = s.stats.viewer_counts(&kinds);
            counts.0.into_iter().map(|(kind, n)| {
                let labels = format!("stream=\"{}\",protocol=\"{}\"", s.id(), kind.name());
                (labels, n.to_string())
            })
        })
        .collect();
    family(
        "framecast_viewers",
        "gauge",
        "Viewers now, per protocol.",
        viewers,
    );
    out
}
