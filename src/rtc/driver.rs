//! The driver: one tokio task that owns the UDP socket and every session.
//!
//! It waits for whichever comes first: a [`Cmd`] (open, video, data,
//! keyframe request, close), a datagram, room in the socket's send buffer,
//! or the earliest session timeout. It never awaits a peer or an owner:
//! events go to per-session queues that drop rather than block, and
//! datagrams that do not fit in the kernel's buffer wait in a bounded
//! queue, then are dropped. Its timers run on the tokio clock; str0m gets
//! that time through the shared [`Clock`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use str0m::net::{Protocol, Receive};
use str0m::Input;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::events::Payload;
use super::session::{Session, SessionId};
use super::AccessUnit;

/// Datagrams waiting for the socket before the oldest are dropped.
const MAX_QUEUED: usize = 50_000;
/// How often every session is checked for a silent peer.
const SWEEP: Duration = Duration::from_millis(500);

/// What the [`Rtc`](super::Rtc) handle tells the driver.
pub(crate) enum Cmd {
    /// A new session (its answer already made).
    Open(Box<Session>),
    /// One access unit for the video track of each listed session.
    Video(Vec<SessionId>, Arc<AccessUnit>),
    /// A message for a session's DataChannel.
    Data(SessionId, Payload),
    /// Ask a session's peer for a keyframe.
    KeyframeRequest(SessionId),
    /// End a session.
    Close(SessionId),
}

enum Wake {
    Cmd(Option<Cmd>),
    Udp(std::io::Result<(usize, SocketAddr)>),
    Writable,
    Timer,
    Shutdown,
}

/// The socket, the sessions, and the datagrams waiting to go out.
pub(crate) struct Driver {
    socket: UdpSocket,
    announced: SocketAddr,
    clock: Clock,
    rx: mpsc::Receiver<Cmd>,
    ids: Arc<Mutex<HashSet<SessionId>>>,
    sessions: HashMap<SessionId, Session>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    next_sweep: TokioInstant,
}

impl Driver {
    pub fn new(
        socket: UdpSocket,
        announced: SocketAddr,
        clock: Clock,
        rx: mpsc::Receiver<Cmd>,
        ids: Arc<Mutex<HashSet<SessionId>>>,
    ) -> Self {
        Driver {
            socket,
            announced,
            clock,
            rx,
            ids,
            sessions: HashMap::new(),
            out: VecDeque::new(),
            next_sweep: TokioInstant::now(),
        }
    }

    /// Run until shutdown; every session left then is closed.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 2048];
        loop {
            let wake = self.next_wake();
            let ev = tokio::select! {
                _ = shutdown.cancelled() => Wake::Shutdown,
                c = self.rx.recv() => Wake::Cmd(c),
                r = self.socket.recv_from(&mut buf) => Wake::Udp(r),
                _ = self.socket.writable(), if !self.out.is_empty() => Wake::Writable,
                _ = tokio::time::sleep_until(wake) => Wake::Timer,
            };
            match ev {
                Wake::Shutdown | Wake::Cmd(None) => break,
                Wake::Cmd(Some(c)) => self.commands(c),
                Wake::Udp(Ok((n, src))) => {
                    self.datagram(&buf[..n], src);
                    while let Ok((n, src)) = self.socket.try_recv_from(&mut buf) {
                        self.datagram(&buf[..n], src);
                    }
                }
                Wake::Udp(Err(e)) => tracing::debug!("WebRTC udp receive: {e}"),
                Wake::Writable | Wake::Timer => {}
            }
            self.timeouts();
            self.flush();
        }
        for (_, mut s) in self.sessions.drain() {
            s.disconnect();
        }
        self.ids.lock().clear();
    }

    fn next_wake(&self) -> TokioInstant {
        self.sessions
            .values()
            .map(|s| self.clock.to_tokio(s.next_wake))
            .fold(self.next_sweep, TokioInstant::min)
    }

    /// Run `first` and what else is queued, without going round the select.
    fn commands(&mut self, first: Cmd) {
        self.command(first);
        for _ in 0..256 {
            match self.rx.try_recv() {
                Ok(c) => self.command(c),
                Err(_) => break,
            }
        }
    }

    fn command(&mut self, c: Cmd) {
        let now = self.clock.now();
        match c {
            Cmd::Open(s) => {
                let id = s.id.clone();
                self.sessions.insert(id.clone(), *s);
                self.service(&id);
            }
            Cmd::Close(id) => self.remove(&id),
            Cmd::Video(ids, au) => {
                for id in &ids {
                    self.with(id, |s| {
                        s.write_video(&au, now);
                    });
                }
            }
            Cmd::Data(id, msg) => self.with(&id, |s| s.write_data(&msg)),
            Cmd::KeyframeRequest(id) => self.with(&id, Session::request_keyframe),
        }
    }

    /// Give session `id` an input, then drive it.
    fn with(&mut self, id: &SessionId, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.sessions.get_mut(id) {
            f(s);
            self.service(id);
        }
    }

    fn datagram(&mut self, data: &[u8], source: SocketAddr) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            self.clock.now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.announced,
                contents,
            },
        );
        let Some(id) = self
            .sessions
            .iter()
            .find(|(_, s)| s.accepts(&input))
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        self.with(&id, |s| s.input(input));
    }

    /// Drive sessions whose timeout is due; end the dead ones.
    fn timeouts(&mut self) {
        let now = self.clock.now();
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.next_wake <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.with(&id, |s| s.input(Input::Timeout(now)));
        }
        let tnow = TokioInstant::now();
        if tnow >= self.next_sweep {
            self.next_sweep = tnow + SWEEP;
            let dead: Vec<SessionId> = self
                .sessions
                .iter()
                .filter(|(_, s)| !s.alive(now))
                .map(|(id, _)| id.clone())
                .collect();
            for id in dead {
                tracing::debug!("WebRTC session {id} ended (peer gone)");
                self.remove(&id);
            }
        }
    }

    /// Poll a session's output after an input; end it if it died.
    fn service(&mut self, id: &SessionId) {
        let Some(s) = self.sessions.get_mut(id) else {
            return;
        };
        let out = &mut self.out;
        s.poll(&mut |t| {
            if out.len() >= MAX_QUEUED {
                out.pop_front();
            }
            out.push_back((t.destination, t.contents.into()));
        });
        if !s.alive(self.clock.now()) {
            self.remove(id);
        }
    }

    /// Drop a session; dropping it sends its owner `Closed`.
    fn remove(&mut self, id: &SessionId) {
        if let Some(mut s) = self.sessions.remove(id) {
            s.disconnect();
        }
        self.ids.lock().remove(id);
    }

    /// Send queued datagrams until the socket's buffer is full.
    fn flush(&mut self) {
        while let Some((dest, data)) = self.out.front() {
            match self.socket.try_send_to(data, *dest) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => tracing::trace!("WebRTC udp send to {dest}: {e}"),
                Ok(_) => {}
            }
            self.out.pop_front();
        }
    }
}
