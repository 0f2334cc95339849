//! Sources: what feeds a stream.
