//! What a viewer sends, and the connection of a viewer that is not on a
//! plain TCP socket (an upgrade from a server other than framecast's own):
//! whole-frame writes that give way to shutdown and a cancel-safe reader.

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::codec::{self, Event, ProtocolError, Reader};

/// How long a close frame may take to go out before the socket is dropped.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the viewer did.
pub enum Incoming {
    /// A control frame to answer.
    Event(Event),
    /// It broke the protocol.
    Protocol(ProtocolError),
    /// It went away (EOF or a socket error).
    Gone,
}

/// What the server does about it.
pub enum Reply {
    /// Send this frame (a pong).
    Send(Bytes),
    /// Close with this code, then end.
    Close(u16),
    /// End without a word.
    End,
}

impl Incoming {
    /// The server's answer.
    pub fn reply(self) -> Reply {
        match self {
            Incoming::Event(Event::Ping(p)) => Reply::Send(codec::small_frame(codec::OP_PONG, &p)),
            Incoming::Event(Event::Close(code)) => {
                Reply::Close(code.unwrap_or(codec::CLOSE_NORMAL))
            }
            Incoming::Protocol(e) => {
                tracing::debug!("ws viewer broke the protocol: {}", e.0);
                Reply::Close(codec::CLOSE_PROTOCOL)
            }
            Incoming::Gone => Reply::End,
        }
    }
}

/// A connection the viewer's bytes can be read from.
pub trait ReadInto {
    /// Read what is there into `buf` (waiting for at least one byte); 0 at EOF.
    fn read_into(&mut self, buf: &mut BytesMut) -> impl Future<Output = io::Result<usize>> + Send;
}

impl ReadInto for TokioIo<Upgraded> {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        self.read_buf(buf).await
    }
}

impl ReadInto for &tokio::net::TcpStream {
    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            self.readable().await?;
            match self.try_read_buf(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    }
}

/// Feed `reader` from `io` until it holds a whole event. Cancel-safe: bytes
/// read stay in `reader`.
pub async fn next_event(reader: &mut Reader, io: &mut impl ReadInto) -> Incoming {
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => return Incoming::Event(ev),
            Err(e) => return Incoming::Protocol(e),
            Ok(None) => {}
        }
        match io.read_into(reader.buffer()).await {
            Ok(0) | Err(_) => return Incoming::Gone,
            Ok(_) => {}
        }
    }
}

/// A viewer's upgraded connection when it is not a plain TCP socket.
pub struct Socket {
    io: TokioIo<Upgraded>,
    reader: Reader,
    token: CancellationToken,
}

impl Socket {
    /// Take over an upgraded connection; `token` ends pending writes on shutdown.
    pub fn new(up: Upgraded, token: CancellationToken) -> Self {
        let io = TokioIo::new(up);
        let reader = Reader::default();
        Self { io, reader, token }
    }

    /// Write `buf` whole (vectored when it has several chunks).
    pub async fn send(&mut self, mut buf: impl Buf + Send) -> io::Result<()> {
        tokio::select! {
            r = self.io.write_all_buf(&mut buf) => r,
            _ = self.token.cancelled() => Err(io::ErrorKind::Interrupted.into()),
        }
    }

    /// Send a close frame with `code` (best effort, bounded in time).
    pub async fn close(&mut self, code: u16) {
        let mut frame = codec::close_frame(code);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.io.write_all_buf(&mut frame)).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.io.shutdown()).await;
    }

    /// The server's shutdown token.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// The next thing the viewer did. Cancel-safe: bytes read are kept.
    pub async fn next_event(&mut self) -> Incoming {
        next_event(&mut self.reader, &mut self.io).await
    }
}
