//! What a session tells its owner: [`SessionEvent`]s through a small
//! per-session queue ([`Events`]) that never blocks the driver.
//!
//! The queue holds at most [`CAPACITY`] events. When it is full, the oldest
//! queued `Media` event makes room (latest wins: the next `Media` is marked
//! not contiguous so a receiver knows to wait for, or ask for, a keyframe);
//! other events that do not fit are dropped, except `Connected` and
//! `Closed`, which always get in. Repeated keyframe requests are coalesced.
//! `Closed` is always the last event, sent once, even when the driver stops.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::AccessUnit;

/// Events queued for one session before `Media`/`Data` are dropped.
pub const CAPACITY: usize = 64;

/// A DataChannel message, in or out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A text message (a WebRTC string message).
    Text(Arc<str>),
    /// A binary message.
    Binary(Arc<[u8]>),
}

impl Payload {
    /// The message's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Payload::Text(t) => t.as_bytes(),
            Payload::Binary(b) => b,
        }
    }
}

/// Something that happened to one session.
#[derive(Debug)]
pub enum SessionEvent {
    /// ICE and DTLS are up: media and data can flow.
    Connected,
    /// A depacketized H.264 access unit from the peer (a WHIP publisher).
    /// `contiguous` is false when packets or events were lost before it:
    /// a decoder needs a keyframe before it can go on.
    Media {
        /// The picture: Annex B, keyframe flag, pts from the RTP clock.
        au: AccessUnit,
        /// Nothing was lost between the previous `Media` and this one.
        contiguous: bool,
    },
    /// A message received on the session's DataChannel.
    Data(Payload),
    /// The peer lost pictures and asks for a keyframe (PLI or FIR).
    KeyframeRequest,
    /// The session has ended (closed, timed out, failed or shut down).
    Closed,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<SessionEvent>,
    waker: Option<Waker>,
    /// `Closed` has been queued; nothing follows it.
    closed: bool,
    /// `Closed` has been taken by the receiver.
    done: bool,
    /// A `Media` event was dropped: the next one is not contiguous.
    lost_media: bool,
    /// The receiver is gone: events are not queued.
    no_receiver: bool,
}

/// The receiving end of one session's events. Ends after `Closed`.
pub struct Events {
    queue: Arc<Mutex<Queue>>,
}

/// The driver's end of one session's events.
pub(crate) struct EventTx {
    queue: Arc<Mutex<Queue>>,
}

/// A new event queue.
pub(crate) fn channel() -> (EventTx, Events) {
    let queue = Arc::new(Mutex::new(Queue::default()));
    (
        EventTx {
            queue: queue.clone(),
        },
        Events { queue },
    )
}

impl Events {
    /// The next event; `None` after `Closed` has been returned.
    pub async fn recv(&mut self) -> Option<SessionEvent> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event if one is queued now.
    pub fn try_recv(&mut self) -> Option<SessionEvent> {
        let mut q = self.queue.lock();
        let ev = q.events.pop_front()?;
        q.done |= matches!(ev, SessionEvent::Closed);
        Some(ev)
    }

    /// Poll for the next event (see [`Events::recv`]).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        if let Some(ev) = self.try_recv() {
            return Poll::Ready(Some(ev));
        }
        let mut q = self.queue.lock();
        if q.done {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl futures_util::Stream for Events {
    type Item = SessionEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEvent>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let mut q = self.queue.lock();
        q.no_receiver = true;
        q.events.clear();
    }
}

impl EventTx {
    /// Queue an event without waiting (see the module docs for what is dropped).
    pub fn send(&self, ev: SessionEvent) {
        let mut q = self.queue.lock();
        if q.closed || q.no_receiver {
            return;
        }
        if !admit(&mut q, &ev) {
            return;
        }
        let ev = match ev {
            SessionEvent::Media { au, contiguous } => SessionEvent::Media {
                au,
                contiguous: contiguous && !std::mem::take(&mut q.lost_media),
            },
            other => other,
        };
        q.closed = matches!(ev, SessionEvent::Closed);
        q.events.push_back(ev);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Whether `ev` may join the queue, making room by dropping old media.
fn admit(q: &mut Queue, ev: &SessionEvent) -> bool {
    match ev {
        SessionEvent::Connected | SessionEvent::Closed => true,
        SessionEvent::KeyframeRequest => {
            let queued = q
                .events
                .iter()
                .any(|e| matches!(e, SessionEvent::KeyframeRequest));
            !queued && q.events.len() < CAPACITY
        }
        SessionEvent::Data(_) => q.events.len() < CAPACITY,
        SessionEvent::Media { .. } => {
            if q.events.len() < CAPACITY {
                return true;
            }
            let oldest = q
                .events
                .iter()
                .position(|e| matches!(e, SessionEvent::Media { .. }));
            match oldest {
                Some(i) => {
                    q.events.remove(i);
                    mark_lost_after(q, i);
                    true
                }
                None => {
                    q.lost_media = true;
                    false
                }
            }
        }
    }
}

/// The first `Media` at or after `i` follows a loss; if none is queued,
/// the next one sent does.
fn mark_lost_after(q: &mut Queue, i: usize) {
    let next = q.events.iter_mut().skip(i).find_map(|e| match e {
        SessionEvent::Media { contiguous, .. } => Some(contiguous),
        _ => None,
    });
    match next {
        Some(c) => *c = false,
        None => q.lost_media = true,
    }
}

impl Drop for EventTx {
    fn drop(&mut self) {
        self.send(SessionEvent::Closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn media(seq: u64) -> SessionEvent {
        SessionEvent::Media {
            au: AccessUnit {
                data: Arc::from(&[0u8, 0, 0, 1, 0x65][..]),
                keyframe: seq == 0,
                pts: Duration::from_millis(seq * 33),
                seq,
                width: 0,
                height: 0,
                published_unix_us: 0,
            },
            contiguous: true,
        }
    }

    #[test]
    fn a_full_queue_drops_old_media_but_never_closed() {
        let (tx, mut rx) = channel();
        tx.send(SessionEvent::Connected);
        for seq in 0..CAPACITY as u64 + 10 {
            tx.send(media(seq));
        }
        drop(tx); // queues Closed although the queue is full
        assert!(matches!(rx.try_recv(), Some(SessionEvent::Connected)));
        let mut seqs = Vec::new();
        let mut first_contiguous = None;
        while let Some(ev) = rx.try_recv() {
            match ev {
                SessionEvent::Media { au, contiguous } => {
                    first_contiguous.get_or_insert(contiguous);
                    seqs.push(au.seq);
                }
                SessionEvent::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seqs.len(), CAPACITY - 1, "bounded");
        assert_eq!(*seqs.last().unwrap(), CAPACITY as u64 + 9, "latest wins");
        assert!(rx.try_recv().is_none(), "nothing after Closed");
    }

    #[test]
    fn media_after_a_drop_is_not_contiguous() {
        let (tx, mut rx) = channel();
        for seq in 0..CAPACITY as u64 {
            tx.send(media(seq));
        }
        tx.send(SessionEvent::Data(Payload::Text("x".into()))); // dropped: full
        tx.send(media(100)); // evicts seq 0: seq 1 follows a loss
        while let Some(ev) = rx.try_recv() {
            if let SessionEvent::Media { au, contiguous } = ev {
                assert_eq!(contiguous, au.seq != 1, "seq {}", au.seq);
            }
        }
    }

    #[test]
    fn keyframe_requests_coalesce_and_closed_ends_the_stream() {
        let (tx, mut rx) = channel();
        tx.send(SessionEvent::KeyframeRequest);
        tx.send(SessionEvent::KeyframeRequest);
        tx.send(SessionEvent::Closed);
        tx.send(SessionEvent::Connected); // after Closed: ignored
        assert!(matches!(rx.try_recv(), Some(SessionEvent::KeyframeRequest)));
        assert!(matches!(rx.try_recv(), Some(SessionEvent::Closed)));
        assert!(rx.try_recv().is_none());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(rx.poll_recv(&mut cx), Poll::Ready(None)));
    }
}
