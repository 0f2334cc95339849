//! One TCP viewer's sending side, shared by the stream's fan-out (which hands
//! it each new frame) and the viewer's own task (metadata, pongs, close, and
//! the rest of a frame the socket had no room for).
//!
//! Every write is non-blocking and happens under the outlet's lock, so the two
//! never interleave bytes, and neither ever waits while holding it. What the
//! socket cannot take now stays in the outbox: the message being written, a
//! few small messages, and at most one frame, which a newer frame replaces.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::wire::WireFrame;
use crate::stream::Stream;

/// Small messages (metadata, pongs) a viewer may have waiting; more are dropped.
const SMALL_BACKLOG: usize = 64;

/// Where an outlet's bytes stand after a write attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Everything went out.
    Done,
    /// Bytes wait for the socket to have room.
    Blocked,
    /// The socket failed; the viewer is gone.
    Failed,
}

/// A message partly or not yet written.
enum Pending {
    Small(Bytes),
    Frame { wire: Arc<WireFrame>, offset: u64 },
}

#[derive(Default)]
struct Outbox {
    current: Option<Pending>,
    small: VecDeque<Bytes>,
    frame: Option<Arc<WireFrame>>,
    /// The newest frame taken, so an older or repeated one is not sent.
    last_seq: u64,
    /// With `?fps=`: the earliest time the next frame may be taken.
    next_at: Option<Instant>,
    /// No more frames (a close frame is queued or the socket failed).
    closing: bool,
    failed: bool,
}

/// A viewer's connection as the fan-out sees it.
pub struct Outlet {
    tcp: TcpStream,
    frameinfo: bool,
    gap: Option<Duration>,
    stream: Arc<Stream>,
    out: Mutex<Outbox>,
    /// Tells the viewer's task that bytes wait for room (or the socket failed).
    stuck: Notify,
}

impl Outlet {
    /// Wrap a viewer's TCP connection (non-blocking, registered with tokio).
    pub fn new(
        tcp: TcpStream,
        stream: Arc<Stream>,
        frameinfo: bool,
        gap: Option<Duration>,
    ) -> Self {
        Outlet {
            tcp,
            frameinfo,
            gap,
            stream,
            out: Mutex::new(Outbox::default()),
            stuck: Notify::new(),
        }
    }

    /// The connection (for reading and for waiting until it is writable).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Offer a new frame: it replaces any frame not yet started, unless the
    /// viewer's `?fps=` cap says it is too soon. Sends what it can now; when
    /// something is left, the viewer's task is told to finish it.
    pub fn offer(&self, wire: &Arc<WireFrame>) {
        let mut out = self.out.lock();
        let now = Instant::now();
        let too_soon = out.next_at.is_some_and(|t| now < t);
        if out.closing || wire.seq <= out.last_seq || too_soon {
            return;
        }
        out.last_seq = wire.seq;
        out.next_at = self.gap.map(|g| now + g);
        out.frame = Some(wire.clone());
        if self.pump_locked(&mut out) != Flow::Done {
            self.stuck.notify_one();
        }
    }

    /// Queue a small message (metadata text, pong) and send what can go now.
    pub fn push_small(&self, msg: Bytes) -> Flow {
        let mut out = self.out.lock();
        if out.small.len() >= SMALL_BACKLOG {
            tracing::debug!("ws viewer too slow: a small message was dropped");
        } else {
            out.small.push_back(msg);
        }
        self.pump_locked(&mut out)
    }

    /// Queue a close frame after whatever is being written; no frames follow.
    pub fn push_close(&self, frame: Bytes) -> Flow {
        let mut out = self.out.lock();
        out.closing = true;
        out.frame = None;
        out.small.clear();
        out.small.push_back(frame);
        self.pump_locked(&mut out)
    }

    /// Send whatever waits, as far as the socket takes it now.
    pub fn pump(&self) -> Flow {
        self.pump_locked(&mut self.out.lock())
    }

    /// Wait until the viewer's task should look at the outbox again.
    pub async fn stuck(&self) {
        self.stuck.notified().await
    }

    /// Send everything waiting, waiting for room as needed.
    pub async fn flush(&self) -> io::Result<()> {
        loop {
            match self.pump() {
                Flow::Done => return Ok(()),
                Flow::Failed => return Err(io::ErrorKind::BrokenPipe.into()),
                Flow::Blocked => self.tcp.writable().await?,
            }
        }
    }

    fn pump_locked(&self, out: &mut Outbox) -> Flow {
        if out.failed {
            return Flow::Failed;
        }
        loop {
            if out.current.is_none() {
                out.current = self.next_message(out);
            }
            let Some(pending) = out.current.as_mut() else {
                return Flow::Done;
            };
            match self.write_some(pending) {
                Ok(true) => out.current = None,
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flow::Blocked,
                Err(e) => {
                    tracing::debug!("ws viewer write failed: {e}");
                    out.failed = true;
                    out.closing = true;
                    return Flow::Failed;
                }
            }
        }
    }

    /// Small messages go first: they are short and may be control frames.
    fn next_message(&self, out: &mut Outbox) -> Option<Pending> {
        if let Some(m) = out.small.pop_front() {
            return Some(Pending::Small(m));
        }
        let wire = out.frame.take()?;
        let stats = &self.stream.stats;
        stats.bytes_out.fetch_add(wire.jpeg.len() as u64, Relaxed);
        #[cfg(target_os = "linux")]
        if wire.file.is_some() {
            stats.zero_copy_sends.fetch_add(1, Relaxed);
        }
        let offset = wire.start(self.frameinfo);
        Some(Pending::Frame { wire, offset })
    }

    /// One non-blocking write of `p`; `Ok(true)` once it is all out.
    fn write_some(&self, p: &mut Pending) -> io::Result<bool> {
        match p {
            Pending::Small(b) => {
                let n = self.tcp.try_write(b)?;
                b.advance(n);
                Ok(b.is_empty())
            }
            Pending::Frame { wire, offset } => {
                let n = self.write_frame(wire, *offset)?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                *offset += n;
                Ok(*offset >= wire.end())
            }
        }
    }

    fn write_frame(&self, wire: &WireFrame, offset: u64) -> io::Result<u64> {
        #[cfg(target_os = "linux")]
        if let Some(file) = &wire.file {
            return self.tcp.try_io(tokio::io::Interest::WRITABLE, || {
                file.send_some(&self.tcp, offset)
            });
        }
        Ok(self.tcp.try_write_vectored(&wire.slices(offset))? as u64)
    }
}
