//! One task per stream hands each new frame to every WebSocket viewer on a
//! plain TCP connection (docs/design/0005-websocket-fanout.md).
//!
//! A frame costs one wake-up and one pass over the viewers, each getting a
//! non-blocking `splice`, instead of waking one task per viewer. A viewer
//! whose socket is full keeps the rest in its outlet, and its own task sends
//! it when there is room; it never holds up the pass.

use std::sync::Arc;

use parking_lot::Mutex;

use super::outlet::Outlet;
use super::wire::WireFrame;
use crate::stream::{FrameSubscriber, Stream};

/// Viewers served between two yields to the runtime, so a pass over many
/// viewers does not hold a worker thread for long.
const PASS_CHUNK: usize = 32;

/// The viewers of one stream, and whether the task serving them runs.
#[derive(Default)]
pub struct Fanout {
    members: Mutex<Members>,
}

#[derive(Default)]
struct Members {
    outlets: Vec<Arc<Outlet>>,
    running: bool,
    /// Passes made, to rotate who goes first.
    passes: usize,
}

/// A viewer's place in the fan-out; it leaves when this drops.
pub struct Membership {
    fanout: Arc<Fanout>,
    outlet: Arc<Outlet>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut m = self.fanout.members.lock();
        m.outlets.retain(|o| !Arc::ptr_eq(o, &self.outlet));
    }
}

impl Fanout {
    /// The fan-out of `stream` (one per stream).
    pub fn of(stream: &Stream) -> Arc<Fanout> {
        stream.derived(Fanout::default)
    }

    /// Add a viewer; starts the serving task if it was not running.
    pub fn join(self: &Arc<Self>, stream: &Stream, outlet: Arc<Outlet>) -> Membership {
        let mut m = self.members.lock();
        m.outlets.push(outlet.clone());
        if !m.running {
            m.running = true;
            tokio::spawn(self.clone().serve(stream.subscribe()));
        }
        Membership {
            fanout: self.clone(),
            outlet,
        }
    }

    /// Hand every frame to every viewer until none is left.
    async fn serve(self: Arc<Self>, mut frames: FrameSubscriber) {
        while let Some(f) = frames.next().await {
            if self.stop_if_empty() {
                return;
            }
            let Some(wire) = WireFrame::of(&f).await else {
                continue;
            };
            for (i, o) in self.pass_order().iter().enumerate() {
                if i > 0 && i % PASS_CHUNK == 0 {
                    tokio::task::yield_now().await;
                }
                o.offer(&wire);
            }
        }
        // The stream is gone: nothing more will come.
        self.members.lock().running = false;
    }

    /// With no viewer left, mark the task stopped (under the same lock that
    /// `join` takes, so a joining viewer starts a new one).
    fn stop_if_empty(&self) -> bool {
        let mut m = self.members.lock();
        if m.outlets.is_empty() {
            m.running = false;
        }
        !m.running
    }

    /// The viewers in this pass's order, rotated each pass so no viewer is
    /// always last.
    fn pass_order(&self) -> Vec<Arc<Outlet>> {
        let mut m = self.members.lock();
        m.passes = m.passes.wrapping_add(1);
        let mut v = m.outlets.clone();
        if !v.is_empty() {
            let k = m.passes % v.len();
            v.rotate_left(k);
        }
        v
    }
}
