//! Which WHEP sessions belong to a stream, and the one glue task that
//! serves them (hung on the stream with `Stream::derived`).
//!
//! A session is bound to the stream it was opened for: `PATCH`/`DELETE`
//! under another stream's URL do not find it. The task starts with the
//! first session and stops after the last one has closed; adding a session
//! and the task stopping both take the same lock, so none is lost between.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::glue::{self, Join};
use crate::error::{Error, Result};
use crate::rendition::h264::Rendition;
use crate::rtc::{Events, Rtc, SessionId};
use crate::stream::Stream;

/// Sessions waiting for the glue task to take them, before 503.
const JOIN_QUEUE: usize = 64;

/// The WHEP sessions of one stream.
#[derive(Default)]
pub struct Fanout {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: HashSet<SessionId>,
    /// The running glue task's inbox; `None` when no task runs.
    joins: Option<mpsc::Sender<Join>>,
}

impl Fanout {
    /// The WHEP sessions of `stream` (one set per stream).
    pub fn of(stream: &Stream) -> Arc<Fanout> {
        stream.derived(Fanout::default)
    }

    /// Whether session `id` was opened for this stream and is not closed.
    pub fn has(&self, id: &str) -> bool {
        self.inner.lock().sessions.contains(id)
    }

    /// Hand a new session to the glue task (started if none runs). It
    /// counts as a WebRTC viewer of `stream` until it closes.
    pub fn add(
        self: &Arc<Self>,
        stream: &Arc<Stream>,
        rendition: Arc<Rendition>,
        rtc: &Arc<Rtc>,
        id: SessionId,
        events: Events,
    ) -> Result<()> {
        let join = Join {
            id: id.clone(),
            events,
            viewer: stream.viewer(super::KIND),
        };
        let mut inner = self.inner.lock();
        let tx = inner.joins.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(JOIN_QUEUE);
            glue::spawn(self.clone(), stream.clone(), rendition, rtc.clone(), rx);
            tx
        });
        tx.try_send(join)
            .map_err(|_| Error::unavailable("WHEP is busy; try again later"))?;
        inner.sessions.insert(id);
        Ok(())
    }

    /// The glue task stopped early (shutdown): forget it and its sessions.
    pub(super) fn stopped<'a>(&self, ids: impl Iterator<Item = &'a SessionId>) {
        let mut inner = self.inner.lock();
        inner.joins = None;
        for id in ids {
            inner.sessions.remove(id);
        }
    }

    /// A session has closed.
    pub(super) fn remove(&self, id: &SessionId) {
        self.inner.lock().sessions.remove(id);
    }

    /// Called by the glue task with no sessions left: true if it may stop
    /// (nothing waits in its inbox), and then no task runs any more.
    pub(super) fn retire(&self, inbox: &mpsc::Receiver<Join>) -> bool {
        let mut inner = self.inner.lock();
        if !inbox.is_empty() {
            return false;
        }
        inner.joins = None;
        true
    }
}
