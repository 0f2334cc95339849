//! One task per stream hands each new frame to every WebSocket viewer on a
//! plain TCP connection (docs/design/0005-websocket-fanout.md).
//!
//! A frame costs one wake-up and one pass over the viewers, each getting a
//! non-blocking `splice`, instead of waking one task per viewer. A viewer
//! whose socket is full keeps the rest in its outlet, and its own task sends
//! it when there is room; it never holds up the pass.

use std::sync::{Arc, Weak};

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
    pub fn join(self: &Arc<Self>, stream: &Arc<Stream>, outlet: Arc<Outlet>) -> Membership {
        let mut m = self.members.lock();
        m.outlets.push(outlet.clone());
        if !m.running {
            m.running = true;
            let frames = stream.subscribe();
            tokio::spawn(self.clone().serve(Arc::downgrade(stream), frames));
        }
        Membership {
            fanout: self.clone(),
            outlet,
        }
    }

    /// Hand every frame to every viewer until none is left.
    /// Holds the stream weakly: the stream owns this fan-out.
    async fn serve(self: Arc<Self>, stream: Weak<Stream>, mut frames: FrameSubscriber) {
        while let Some(f) = frames.next().await {
            if self.stop_if_empty() {
                return;
            }
            let Some(stream) = stream.upgrade() else {
                break;
            };
            let Some(wire) = WireFrame::of(&stream, &f).await else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Frame;
    use crate::stream::{Hub, HubConfig, StreamId, StreamOptions};

    fn state(f: &Fanout) -> (usize, bool) {
        let m = f.members.lock();
        (m.outlets.len(), m.running)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_task_stops_after_the_last_viewer_and_restarts_for_the_next() {
        let hub = Hub::new(HubConfig::default());
        let id = StreamId::parse("t").unwrap();
        let publisher = hub.create(id.clone(), StreamOptions::new("test")).unwrap();
        let stream = hub.get(&id).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await;
        let tcp = listener.accept().await.unwrap().0;
        let outlet = Arc::new(Outlet::new(tcp, stream.clone(), false, None));
        let fanout = Fanout::of(&stream);
        assert!(Arc::ptr_eq(&fanout, &Fanout::of(&stream)), "one per stream");

        let member = fanout.join(&stream, outlet.clone());
        assert_eq!(state(&fanout), (1, true));
        drop(member);
        assert_eq!(
            state(&fanout),
            (0, true),
            "left; the task ends on the next frame"
        );
        let mut frames = stream.subscribe();
        publisher
            .send(Frame::solid(16, 16, [1, 2, 3]).unwrap())
            .await
            .unwrap();
        frames.next().await.unwrap();
        let stopped = async {
            while state(&fanout).1 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), stopped)
            .await
            .expect("the task stops once it sees nobody is left");

        let _member = fanout.join(&stream, outlet);
        assert_eq!(state(&fanout), (1, true), "a new viewer starts it again");
    }
}
