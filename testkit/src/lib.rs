//! framecast's test kit: what a test or the bench needs to talk to a real
//! framecast server as a client. It owns the in-process test server
//! ([`server`]), the MJPEG reader ([`mjpeg`]), the lean MJPEG/WebSocket
//! viewers the bench runs by the hundred ([`lean_viewer`]), a str0m WebRTC
//! peer doing WHEP ([`rtc_client`]), HLS playlist helpers ([`hls`]), a headless
//! Chromium driver ([`browser`]), and running one test alone in a child
//! process ([`solo`]).
//!
//! It is a workspace member of its own (never published) so the helpers are
//! compiled once, not once per test binary, and the bench shares them.

#![warn(missing_docs)]

pub mod browser;
pub mod hls;
pub mod lean_viewer;
pub mod mjpeg;
pub mod rtc_client;
pub mod server;
pub mod solo;
