//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod mjpeg;
pub mod rtc_client;
pub mod server;
