//! One stream's HLS state in memory: the segmenter behind a lock, a change
//! signal that blocked requests wait on, the encoder-feeding task's life
//! (it runs while requests keep coming) and the recent distinct clients.

use std::collections::HashMap;

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::segmenter::{Pushed, Segmenter, SegmenterConfig};
use crate::media::AccessUnit;
use crate::rendition::AuFeed;
use crate::stream::{unix_us, Stream};

/// A client, as far as HTTP can tell: address and User-Agent.
pub type ClientKey = (Option<IpAddr>, u64);

/// Timing of a stream's HLS session.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Stop feeding the encoder after this long without a request.
    pub idle: Duration,
    /// A client counts as a viewer for this long after its last request.
    pub viewer_window: Duration,
}

struct Life {
    running: bool,
    session: u64,
    last_request: Instant,
    cancel: CancellationToken,
}

/// One stream's HLS state.
///
/// Kept in the stream's derived values, so it holds the stream weakly.
pub struct HlsStream {
    stream: Weak<Stream>,
    seg: Mutex<Segmenter>,
    changed: watch::Sender<u64>,
    life: Mutex<Life>,
    clients: Mutex<HashMap<ClientKey, Instant>>,
    timing: Timing,
}

/// What a check passed to [`HlsStream::wait_for`] says.
pub enum Step<T> {
    /// Answer with this.
    Done(T),
    /// Look again after the next change.
    Wait,
}

impl HlsStream {
    /// Fresh state for `stream`.
    pub fn new(stream: &Arc<Stream>, cfg: SegmenterConfig, timing: Timing) -> Self {
        HlsStream {
            stream: Arc::downgrade(stream),
            seg: Mutex::new(Segmenter::new(cfg)),
            changed: watch::channel(0).0,
            life: Mutex::new(Life {
                running: false,
                session: 0,
                last_request: Instant::now(),
                cancel: CancellationToken::new(),
            }),
            clients: Mutex::new(HashMap::new()),
            timing,
        }
    }

    /// The stream this state belongs to, while it lives.
    pub fn stream(&self) -> Option<Arc<Stream>> {
        self.stream.upgrade()
    }

    fn set_viewers(&self, n: usize) {
        if let Some(stream) = self.stream.upgrade() {
            stream.stats.set_viewers(super::KIND, n);
        }
    }

    /// Read the segmenter.
    pub fn with<T>(&self, f: impl FnOnce(&Segmenter) -> T) -> T {
        f(&self.seg.lock())
    }

    /// Feed an access unit (stamped with the wall clock) and wake waiters.
    pub fn push(&self, au: &AccessUnit) -> Pushed {
        self.push_at(au, unix_us())
    }

    /// Feed an access unit with an injected wall clock.
    pub fn push_at(&self, au: &AccessUnit, now_us: u64) -> Pushed {
        let (pushed, version) = {
            let mut s = self.seg.lock();
            let p = s.push(au, now_us);
            (p, s.version())
        };
        if pushed.changed {
            self.changed.send_replace(version);
        }
        pushed
    }

    /// Wait until `check` says done, or `timeout` passes (`None`).
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Segmenter) -> Step<T>,
    ) -> Option<T> {
        let mut rx = self.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Step::Done(v) = check(&self.seg.lock()) {
                return Some(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Note a request from `client`. True when the caller must start the
    /// feeding task (it was not running); the session is then marked running.
    pub fn touch(&self, client: ClientKey) -> bool {
        let now = Instant::now();
        self.clients.lock().insert(client, now);
        self.recount(now);
        let mut life = self.life.lock();
        life.last_request = now;
        if life.running {
            return false;
        }
        life.running = true;
        life.session += 1;
        life.cancel = CancellationToken::new();
        true
    }

    /// Count recent distinct clients into the stream's viewer stats.
    fn recount(&self, now: Instant) {
        let window = self.timing.viewer_window;
        let mut c = self.clients.lock();
        c.retain(|_, t| now.saturating_duration_since(*t) < window);
        let n = c.len();
        drop(c);
        self.set_viewers(n);
    }

    /// When the session will be quiet; `None` when it is, and then it has
    /// been stopped (decided under the lock so a request cannot slip in).
    fn quiet_until(&self, session: u64) -> Option<Instant> {
        let mut life = self.life.lock();
        if life.session != session {
            return None;
        }
        let until = life.last_request + self.timing.idle;
        if Instant::now() >= until {
            self.stop_locked(&mut life);
            None
        } else {
            Some(until)
        }
    }

    /// End the session: drop the segments, wake waiters, zero the viewers.
    fn stop_locked(&self, life: &mut Life) {
        if !life.running {
            return;
        }
        life.running = false;
        let version = {
            let mut s = self.seg.lock();
            s.reset();
            s.version()
        };
        self.changed.send_replace(version);
        self.clients.lock().clear();
        self.set_viewers(0);
    }

    /// Stop the feeding task now (stream gone, server shutting down).
    pub fn cancel(&self) {
        self.life.lock().cancel.cancel();
    }

    /// Feed access units until the session is quiet, the feed ends or
    /// `shutdown` fires; then drop the segments.
    pub async fn run(self: Arc<Self>, mut feed: impl AuFeed, shutdown: CancellationToken) {
        let (cancel, session) = {
            let life = self.life.lock();
            (life.cancel.clone(), life.session)
        };
        let tick = self.timing.viewer_window.min(Duration::from_secs(1));
        while let Some(quiet_at) = self.quiet_until(session) {
            let wake = quiet_at.min(Instant::now() + tick);
            tokio::select! {
                au = feed.next_au() => match au {
                    Some(au) => {
                        if self.push(&au).want_keyframe {
                            feed.request_keyframe();
                        }
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(wake) => self.recount(Instant::now()),
                _ = cancel.cancelled() => break,
                _ = shutdown.cancelled() => break,
            }
        }
        let mut life = self.life.lock();
        if life.session == session {
            self.stop_locked(&mut life);
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
