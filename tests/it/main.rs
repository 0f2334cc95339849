//! In-process integration tests: a real framecast server (or hub) in this
//! process, driven over real sockets by the clients in `framecast-testkit`.
//! One binary, one module per area; each former `tests/*.rs` file is a module,
//! so `cargo test --test it stall::` finds what `--test stall` used to.
//!
//! Tests here share one process. None sets environment variables or other
//! process-wide state; every server binds an ephemeral port; the one test
//! that measures the process as a whole (`stall`) runs alone in a child
//! process via `framecast_testkit::solo`.

mod embedded;
mod gallery;
mod hls;
mod outputs;
mod pacing;
mod publisher;
mod push;
mod stall;
mod webrtc;
mod whep;
mod ws;
mod ws_stall;
