//! Outputs: how viewers watch a stream.
