//! End-to-end tests that drive real external tools against a real framecast
//! server in this process: headless Chromium (the pages, WebRTC, HLS with
//! MSE), ffprobe and ffmpeg (the MJPEG and HLS output as a player reads it).
//!
//! A test whose tool is missing prints a loud `SKIP:` line and passes, unless
//! `FRAMECAST_REQUIRE_E2E=1` (CI), where a missing tool fails it.

mod browser;
mod browser_viewer_rtc;
mod colours_browser;
mod ffprobe;
mod hls;
mod hls_browser;
mod webrtc_browser;
