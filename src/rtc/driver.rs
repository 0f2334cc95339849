//! The driver: one tokio task that owns the UDP socket and every session.
//!
//! It waits for whichever comes first: a command (new session, media,
//! metadata, close), a datagram, room in the socket's send buffer, or the
//! earliest session timeout. It never awaits a viewer: datagrams that do
//! not fit in the kernel's buffer wait in a bounded queue, then are dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use str0m::net::{Protocol, Receive};
use str0m::Input;
use tokio::net::UdpSocket;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::session::{Session, SessionId};
use crate::media::AccessUnit;

/// Datagrams waiting for the socket before the oldest are dropped.
const MAX_QUEUED: usize = 50_000;
/// How often every session is checked for a silent peer.
const SWEEP: Duration = Duration::from_millis(500);

/// What the rest of framecast tells the driver.
pub(crate) enum Cmd {
    /// A new session (answer already made).
    Add(Box<Session>),
    /// End a session (WHEP DELETE).
    Close(SessionId),
    /// An access unit for a session's video track.
    Media(SessionId, Arc<AccessUnit>),
    /// A metadata message for a session's DataChannel.
    Meta(SessionId, Arc<str>),
    /// A session's stream has ended.
    Ended(SessionId),
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
    rx: mpsc::Receiver<Cmd>,
    tx: mpsc::Sender<Cmd>,
    ids: Arc<Mutex<HashSet<SessionId>>>,
    sessions: HashMap<SessionId, Session>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    next_sweep: Instant,
}

impl Driver {
    pub fn new(
        socket: UdpSocket,
        announced: SocketAddr,
        rx: mpsc::Receiver<Cmd>,
        tx: mpsc::Sender<Cmd>,
        ids: Arc<Mutex<HashSet<SessionId>>>,
    ) -> Self {
        Driver {
            socket,
            announced,
            rx,
            tx,
            ids,
            sessions: HashMap::new(),
            out: VecDeque::new(),
            next_sweep: Instant::now(),
        }
    }

    /// Run until shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 2048];
        loop {
            let wake = self.next_wake();
            let ev = tokio::select! {
                _ = shutdown.cancelled() => Wake::Shutdown,
                c = self.rx.recv() => Wake::Cmd(c),
                r = self.socket.recv_from(&mut buf) => Wake::Udp(r),
                _ = self.socket.writable(), if !self.out.is_empty() => Wake::Writable,
                _ = tokio::time::sleep_until(wake.into()) => Wake::Timer,
            };
            match ev {
                Wake::Shutdown | Wake::Cmd(None) => break,
                Wake::Cmd(Some(c)) => {
                    self.command(c);
                    // Take what else is queued without going round the select.
                    for _ in 0..256 {
                        match self.rx.try_recv() {
                            Ok(c) => self.command(c),
                            Err(_) => break,
                        }
                    }
                }
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
            if let Some(f) = s.feeder.take() {
                f.cancel();
            }
        }
        self.ids.lock().clear();
    }

    fn next_wake(&self) -> Instant {
        self.sessions
            .values()
            .map(|s| s.next_wake)
            .fold(self.next_sweep, Instant::min)
    }

    fn command(&mut self, c: Cmd) {
        let now = Instant::now();
        match c {
            Cmd::Add(s) => {
                let id = s.id.clone();
                self.sessions.insert(id.clone(), *s);
                self.service(&id, now);
            }
            Cmd::Close(id) | Cmd::Ended(id) => self.remove(&id),
            Cmd::Media(id, au) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.write_video(&au, now);
                    self.service(&id, now);
                }
            }
            Cmd::Meta(id, text) => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.write_metadata(&text);
                    self.service(&id, now);
                }
            }
        }
    }

    fn datagram(&mut self, data: &[u8], source: SocketAddr) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let now = Instant::now();
        let input = Input::Receive(
            now,
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
        if let Some(s) = self.sessions.get_mut(&id) {
            s.input(input, true);
        }
        self.service(&id, now);
    }

    /// Drive sessions whose timeout is due; end the dead ones.
    fn timeouts(&mut self) {
        let now = Instant::now();
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.next_wake <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.input(Input::Timeout(now), false);
            }
            self.service(&id, now);
        }
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP;
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

    /// Poll a session's output after an input; act on what it wants.
    fn service(&mut self, id: &SessionId, now: Instant) {
        let Some(s) = self.sessions.get_mut(id) else {
            return;
        };
        let out = &mut self.out;
        let wants = s.poll(&mut |t| {
            if out.len() >= MAX_QUEUED {
                out.pop_front();
            }
            out.push_back((t.destination, t.contents.into()));
        });
        if wants.start_media && s.feeder.is_none() {
            s.feeder = Some(spawn_feeder(s, self.tx.clone()));
        }
        if wants.keyframe {
            s.rendition.request_keyframe();
        }
        if !s.alive(now) {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: &SessionId) {
        if let Some(mut s) = self.sessions.remove(id) {
            s.disconnect();
            if let Some(f) = s.feeder.take() {
                f.cancel();
            }
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

/// Follow the session's rendition and metadata, handing both to the driver.
/// Holds the H.264 subscriber: when cancelled, the viewer leaves the rendition.
fn spawn_feeder(s: &Session, tx: mpsc::Sender<Cmd>) -> CancellationToken {
    let token = CancellationToken::new();
    let stop = token.clone();
    let mut video = s.rendition.subscribe();
    let mut meta = Some(s.stream.subscribe_metadata());
    let id = s.id.clone();
    tokio::spawn(async move {
        loop {
            let next_meta = async {
                match meta.as_mut() {
                    Some(m) => m.recv().await,
                    None => std::future::pending().await,
                }
            };
            let cmd = tokio::select! {
                _ = stop.cancelled() => break,
                au = video.next() => match au {
                    Some(au) => Cmd::Media(id.clone(), au),
                    None => Cmd::Ended(id.clone()),
                },
                m = next_meta => match m {
                    Ok(text) => Cmd::Meta(id.clone(), text),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => { meta = None; continue; }
                },
            };
            let ended = matches!(cmd, Cmd::Ended(_));
            if tx.send(cmd).await.is_err() || ended {
                break;
            }
        }
    });
    token
}
