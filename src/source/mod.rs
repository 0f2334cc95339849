//! Sources: what feeds a stream.
pub mod gallery;
