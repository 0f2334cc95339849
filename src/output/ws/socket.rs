//! One viewer's upgraded connection: whole-frame writes that give way to
//! shutdown, and a cancel-safe reader of the viewer's control frames.

use std::io;
use std::time::Duration;

use bytes::Buf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::codec::{self, Event, ProtocolError, Reader};
use super::upgrade::Conn;

/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the viewer did.
pub enum Incoming {
    /// A control frame to answer.
    Event(Event),
    /// It broke the protocol.
    Protocol(ProtocolError),
    /// It went away (EOF or a socket error).
    Gone,
}

/// A viewer's connection.
pub struct Socket {
    io: Conn,
    reader: Reader,
    token: CancellationToken,
}

impl Socket {
    /// Wrap an upgraded connection; `token` ends pending writes on shutdown.
    pub fn new(io: Conn, token: CancellationToken) -> Self {
        Self {
            io,
            reader: Reader::default(),
            token,
        }
    }

    /// Write `buf` whole (vectored when it has several chunks).
    pub async fn send(&mut self, mut buf: impl Buf) -> io::Result<()> {
        tokio::select! {
            r = self.io.write_all_buf(&mut buf) => r,
            _ = self.token.cancelled() => Err(io::ErrorKind::Interrupted.into()),
        }
    }

    /// Write one small frame (text, pong).
    pub async fn send_small(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.send(codec::small_frame(opcode, payload)).await
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
        loop {
            match self.reader.next_event() {
                Ok(Some(ev)) => return Incoming::Event(ev),
                Err(e) => return Incoming::Protocol(e),
                Ok(None) => {}
            }
            match self.io.read_buf(self.reader.buffer()).await {
                Ok(0) | Err(_) => return Incoming::Gone,
                Ok(_) => {}
            }
        }
    }
}
