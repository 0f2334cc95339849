//! Configuration: CLI flags and `framecast.toml`.
