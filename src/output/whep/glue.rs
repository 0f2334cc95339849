//! The WHEP glue: one task per stream turns the stream's H.264 rendition and
//! metadata into `rtc` commands for all of the stream's WHEP sessions, and
//! their events into viewer bookkeeping.
//!
//! - Each access unit is read once and sent to every connected session in
//!   one `Rtc::video` command (one shared buffer). A session starts at a
//!   keyframe: until one comes by, it is left out.
//! - A session that connects subscribes to the rendition. The subscription
//!   is its membership: it asks for a join keyframe (re-encoding the
//!   latest frame on a still stream) and keeps the encoder running while
//!   the session lives. The task reads one subscription for everyone.
//! - A keyframe request (PLI/FIR) from a viewer asks the rendition for one.
//! - Metadata goes to each connected session's DataChannel.
//! - When the stream ends, its sessions are closed; when the last session
//!   has closed, the task stops.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{SelectAll, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

use super::fanout::Fanout;
use crate::media::AccessUnit;
use crate::rendition::h264::{H264Subscriber, Rendition};
use crate::rtc::{Events, Payload, Rtc, SessionEvent, SessionId};
use crate::stream::{Stream, ViewerGuard};

/// A new session for the glue task.
pub(super) struct Join {
    pub id: SessionId,
    pub events: Events,
    pub viewer: ViewerGuard,
}

/// One session as the glue sees it.
struct Viewer {
    /// Set once connected: the session's place in the rendition.
    member: Option<H264Subscriber>,
    /// It has been sent a keyframe, so it can take any access unit.
    synced: bool,
    _viewer: ViewerGuard,
}

impl Viewer {
    /// Whether this access unit goes to this session.
    fn takes(&mut self, keyframe: bool) -> bool {
        self.synced |= keyframe && self.member.is_some();
        self.synced
    }
}

/// One session's events, tagged with its id.
struct Tagged(SessionId, Events);

impl futures_util::Stream for Tagged {
    type Item = (SessionId, SessionEvent);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let me = self.get_mut();
        me.1.poll_recv(cx).map(|e| e.map(|e| (me.0.clone(), e)))
    }
}

/// What woke the task.
enum Wake {
    Join(Option<Join>),
    Event(SessionId, SessionEvent),
    Video(Option<Arc<AccessUnit>>),
    Meta(Result<Arc<str>, RecvError>),
}

struct Glue {
    fanout: Arc<Fanout>,
    stream: Arc<Stream>,
    rendition: Arc<Rendition>,
    rtc: Arc<Rtc>,
    joins: mpsc::Receiver<Join>,
    viewers: HashMap<SessionId, Viewer>,
    events: SelectAll<Tagged>,
    /// The one subscription read for everyone, while anyone is connected.
    reader: Option<H264Subscriber>,
    meta: Option<broadcast::Receiver<Arc<str>>>,
    /// The rendition has ended (the stream is gone).
    ended: bool,
}

/// Start the glue task of one stream.
pub(super) fn spawn(
    fanout: Arc<Fanout>,
    stream: Arc<Stream>,
    rendition: Arc<Rendition>,
    rtc: Arc<Rtc>,
    joins: mpsc::Receiver<Join>,
) {
    let meta = Some(stream.subscribe_metadata());
    let glue = Glue {
        fanout,
        stream,
        rendition,
        rtc,
        joins,
        viewers: HashMap::new(),
        events: SelectAll::new(),
        reader: None,
        meta,
        ended: false,
    };
    tokio::spawn(glue.run());
}

impl Glue {
    async fn run(mut self) {
        while self.step().await {
            if self.viewers.is_empty() && self.fanout.retire(&self.joins) {
                return;
            }
        }
        while let Ok(j) = self.joins.try_recv() {
            self.viewers.insert(j.id, new_viewer(j.viewer));
        }
        self.fanout.stopped(self.viewers.keys());
    }

    /// Wait for one thing and handle it; false when the task must stop.
    async fn step(&mut self) -> bool {
        let wake = tokio::select! {
            j = self.joins.recv() => Wake::Join(j),
            Some((id, ev)) = self.events.next(), if !self.events.is_empty() => Wake::Event(id, ev),
            au = next_video(&mut self.reader) => Wake::Video(au),
            m = next_meta(&mut self.meta) => Wake::Meta(m),
        };
        match wake {
            Wake::Join(None) => false,
            Wake::Join(Some(j)) => {
                self.events.push(Tagged(j.id.clone(), j.events));
                self.viewers.insert(j.id, new_viewer(j.viewer));
                true
            }
            Wake::Event(id, ev) => self.event(id, ev).await,
            Wake::Video(Some(au)) => self.video(au).await,
            Wake::Video(None) => self.end().await,
            Wake::Meta(Ok(text)) => self.metadata(text).await,
            Wake::Meta(Err(RecvError::Lagged(_))) => true,
            Wake::Meta(Err(RecvError::Closed)) => {
                self.meta = None;
                true
            }
        }
    }

    async fn event(&mut self, id: SessionId, ev: SessionEvent) -> bool {
        match ev {
            SessionEvent::Connected => return self.connected(&id).await,
            SessionEvent::KeyframeRequest => self.rendition.request_keyframe(),
            SessionEvent::Closed => {
                self.viewers.remove(&id);
                self.fanout.remove(&id);
                if !self.viewers.values().any(|v| v.member.is_some()) {
                    self.reader = None;
                }
            }
            SessionEvent::Media { .. } | SessionEvent::Data(_) => {}
        }
        true
    }

    async fn connected(&mut self, id: &SessionId) -> bool {
        if self.ended {
            let _ = self.rtc.close(id.as_str()).await;
            return true;
        }
        if let Some(v) = self.viewers.get_mut(id) {
            v.member = Some(self.rendition.subscribe());
        }
        if self.reader.is_none() {
            self.reader = Some(self.rendition.subscribe());
        }
        true
    }

    /// One access unit to every session that can take it, in one command.
    async fn video(&mut self, au: Arc<AccessUnit>) -> bool {
        let to: Vec<SessionId> = self
            .viewers
            .iter_mut()
            .filter(|(_, v)| v.member.is_some())
            .filter_map(|(id, v)| v.takes(au.keyframe).then(|| id.clone()))
            .collect();
        if to.is_empty() {
            return true;
        }
        let bytes = (au.data.len() * to.len()) as u64;
        self.stream.stats.bytes_out.fetch_add(bytes, Relaxed);
        self.rtc.video(to, au).await.is_ok()
    }

    async fn metadata(&mut self, text: Arc<str>) -> bool {
        for (id, v) in &self.viewers {
            if v.member.is_some() {
                let msg = Payload::Text(text.clone());
                if self.rtc.data(id, msg).await.is_err() {
                    return false;
                }
            }
        }
        true
    }

    /// The stream has ended: close its sessions.
    async fn end(&mut self) -> bool {
        self.ended = true;
        self.reader = None;
        for id in self.viewers.keys() {
            let _ = self.rtc.close(id.as_str()).await;
        }
        true
    }
}

fn new_viewer(viewer: ViewerGuard) -> Viewer {
    Viewer {
        member: None,
        synced: false,
        _viewer: viewer,
    }
}

async fn next_video(reader: &mut Option<H264Subscriber>) -> Option<Arc<AccessUnit>> {
    match reader {
        Some(r) => r.next().await,
        None => std::future::pending().await,
    }
}

async fn next_meta(
    meta: &mut Option<broadcast::Receiver<Arc<str>>>,
) -> Result<Arc<str>, RecvError> {
    match meta {
        Some(m) => m.recv().await,
        None => std::future::pending().await,
    }
}
