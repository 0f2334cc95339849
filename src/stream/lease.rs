//! Who feeds a stream: a stream has at most one live exclusive publisher.
//!
//! A source that must be the stream's only feeder (the pattern, a gallery,
//! later a WHIP session or a camera) holds a [`Lease`] for as long as it
//! publishes; a second claim gets 409 naming the holder. When the lease
//! drops, the stream is free again and keeps its last frame for viewers.
//! Streams created open (HTTP and WebSocket push) are shared by every pusher
//! and take no lease, but refuse pushes while someone holds one.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Stream;
use crate::error::{Error, ErrorKind, Result};

/// The holder of a stream's lease: a token and a name for messages.
#[derive(Debug, Default)]
pub(crate) struct LeaseSlot(Mutex<Option<(u64, String)>>);

impl LeaseSlot {
    /// Who holds the lease now, if anyone.
    pub fn holder(&self) -> Option<String> {
        self.0.lock().as_ref().map(|(_, who)| who.clone())
    }
}

/// The exclusive right to publish into a stream; released on drop.
#[derive(Debug)]
pub struct Lease {
    stream: Arc<Stream>,
    token: u64,
}

impl Lease {
    /// The stream this lease is for.
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut slot = self.stream.lease.0.lock();
        if slot.as_ref().is_some_and(|(t, _)| *t == self.token) {
            *slot = None;
        }
    }
}

/// Claim `stream` for `who`; 409 naming the holder if it is taken.
pub(crate) fn claim(stream: &Arc<Stream>, who: &str) -> Result<Lease> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut slot = stream.lease.0.lock();
    if let Some((_, holder)) = slot.as_ref() {
        return Err(busy(stream, holder));
    }
    let token = NEXT.fetch_add(1, Relaxed);
    *slot = Some((token, who.to_string()));
    Ok(Lease {
        stream: stream.clone(),
        token,
    })
}

/// The 409 for a stream fed by `holder`.
pub(crate) fn busy(stream: &Stream, holder: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!(
            "stream {:?} is fed by {holder}; publish to another stream id",
            stream.id().as_str()
        ),
    )
}
