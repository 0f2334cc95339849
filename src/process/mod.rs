//! Processing: code that runs on a stream's frames between its publisher
//! and its viewers.
//!
//! Today a stream takes in-line [`Processor`]s (transforms, in order) through
//! [`crate::stream::StreamOptions::processors`]; the trait lives in
//! `stream/` because the stream's pump calls it. Analyzers (taps that always
//! take the newest frame), external processes and built-ins will live here.

pub use crate::stream::{Processed, Processor};
