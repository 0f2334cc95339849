//! One TCP viewer's sending side, shared by the stream's fan-out (which hands
//! it each new frame) and the viewer's own task (metadata, pongs, close, and
//! the rest of a frame the socket had no room for).
//!
//! Every write is non-blocking and happens under the outlet's lock, so the two
//! never interleave bytes, and neither ever waits while holding it. What the
//! socket cannot take now stays in the outbox: the message being written, a
//! few small messages, and at most one frame, which a newer frame replaces.
//! A frame also waits while the socket has not sent most of the last one
//! (docs/design/0007-pacing.md).

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::wire::WireFrame;
use crate::output::pacing::Pace;
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
    /// A frame whole in the viewer's pipe: `left` bytes still to splice.
    Piped {
        left: usize,
    },
    /// A frame copied from its bytes, from `offset` on.
    Copied {
        wire: Arc<WireFrame>,
        offset: u64,
    },
}

#[derive(Default)]
struct Outbox {
    current: Option<Pending>,
    small: VecDeque<Bytes>,
    frame: Option<Arc<WireFrame>>,
    /// The newest frame taken, so an older or repeated one is not sent.
    last_seq: u64,
    /// With `?fps=`: the earliest time the next frame may start.
    next_at: Option<Instant>,
    /// No more frames (a close frame is queued or the socket failed).
    closing: bool,
    failed: bool,
    /// The pipe frames are `tee`d into (made on the first frame).
    #[cfg(target_os = "linux")]
    pipe: Option<super::pipe::ViewerPipe>,
    /// No pipe could be made: frames are copied.
    #[cfg(target_os = "linux")]
    no_pipe: bool,
    /// Holds a frame until the socket has sent most of the last one.
    pace: Pace,
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
        let fd = tcp.as_raw_fd();
        Outlet {
            tcp,
            frameinfo,
            gap,
            stream,
            out: Mutex::new(Outbox {
                pace: Pace::new(Some(fd)),
                ..Outbox::default()
            }),
            stuck: Notify::new(),
        }
    }

    /// The connection (for reading and for waiting until it is writable).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Offer a new frame: it replaces any frame not yet started. Sends what
    /// it can now; when something is left, or the viewer's `?fps=` cap holds
    /// the frame back for a while, the viewer's task is told.
    pub fn offer(&self, wire: &Arc<WireFrame>) {
        let mut out = self.out.lock();
        if out.closing || wire.seq <= out.last_seq {
            return;
        }
        out.last_seq = wire.seq;
        out.frame = Some(wire.clone());
        if self.pump_locked(&mut out) != Flow::Done || out.frame.is_some() {
            self.stuck.notify_one();
        }
    }

    /// When to look again at a frame held back by the `?fps=` cap or by
    /// pacing (the socket has not sent most of the last frame yet); `None`
    /// when no frame is held back (one that only waits for room is not).
    pub fn due(&self) -> Option<Instant> {
        let mut out = self.out.lock();
        let now = Instant::now();
        out.frame.as_ref()?; // nothing held
        if let Some(t) = out.next_at.filter(|t| *t > now) {
            return Some(t);
        }
        let held = out.current.is_none() && !out.pace.ready();
        held.then(|| now + out.pace.next_wait())
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
            let Some(mut pending) = out.current.take().or_else(|| self.next_message(out)) else {
                return Flow::Done;
            };
            let written = self.write_some(out, &mut pending);
            if !matches!(written, Ok(true)) {
                out.current = Some(pending);
            }
            match written {
                Ok(_) => {}
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
        let now = Instant::now();
        if out.next_at.is_some_and(|t| now < t) || out.frame.is_none() || !out.pace.ready() {
            return None;
        }
        let wire = out.frame.take()?;
        out.next_at = self.gap.map(|g| now + g);
        out.pace
            .sent((wire.end() - wire.start(self.frameinfo)) as usize);
        let stats = &self.stream.stats;
        stats.bytes_out.fetch_add(wire.jpeg.len() as u64, Relaxed);
        let left = self.load_pipe(out, &wire);
        if left > 0 {
            stats.zero_copy_sends.fetch_add(1, Relaxed);
            return Some(Pending::Piped { left });
        }
        let offset = wire.start(self.frameinfo);
        Some(Pending::Copied { wire, offset })
    }

    /// Put the whole frame (with its frameinfo if asked for) into the
    /// viewer's pipe; how many bytes are there, 0 when it must be copied.
    #[cfg(target_os = "linux")]
    fn load_pipe(&self, out: &mut Outbox, wire: &WireFrame) -> usize {
        let Some(frame) = wire.pipe(self.frameinfo) else {
            return 0;
        };
        if out.pipe.is_none() && !out.no_pipe {
            match super::pipe::ViewerPipe::new() {
                Ok(p) => out.pipe = Some(p),
                Err(e) => {
                    tracing::debug!("ws viewer gets copies: no pipe ({e})");
                    out.no_pipe = true;
                }
            }
        }
        let Some(pipe) = out.pipe.as_mut() else {
            return 0;
        };
        pipe.load(frame).unwrap_or_else(|e| {
            tracing::debug!("ws frame copied: the viewer's pipe could not take it ({e})");
            0
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn load_pipe(&self, _: &mut Outbox, _: &WireFrame) -> usize {
        0
    }

    /// One non-blocking write of `p`; `Ok(true)` once it is all out.
    fn write_some(&self, out: &Outbox, p: &mut Pending) -> io::Result<bool> {
        let (n, done) = match p {
            Pending::Small(b) => {
                let n = self.tcp.try_write(b)?;
                b.advance(n);
                (n, b.is_empty())
            }
            Pending::Piped { left } => {
                let n = self.splice(out, *left)?;
                *left -= n;
                (n, *left == 0)
            }
            Pending::Copied { wire, offset } => {
                let n = self.tcp.try_write_vectored(&wire.slices(*offset))?;
                *offset += n as u64;
                (n, *offset >= wire.end())
            }
        };
        if n == 0 && !done {
            return Err(io::ErrorKind::WriteZero.into());
        }
        Ok(done)
    }

    #[cfg(target_os = "linux")]
    fn splice(&self, out: &Outbox, len: usize) -> io::Result<usize> {
        let Some(pipe) = &out.pipe else {
            return Err(io::ErrorKind::NotFound.into());
        };
        self.tcp.try_io(tokio::io::Interest::WRITABLE, || {
            pipe.splice_to(&self.tcp, len)
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn splice(&self, _: &Outbox, _: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
#[path = "outlet_tests.rs"]
mod tests;
