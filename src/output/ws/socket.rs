//! One viewer's upgraded connection: whole-frame writes that give way to
//! shutdown, and a cancel-safe reader of the viewer's control frames.

use std::io;
use std::time::Duration;

use bytes::Buf;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::codec::{self, Event, ProtocolError, Reader};

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

/// The connection: the plain TCP socket when hyper was serving one (so
/// frames can go out by `sendfile`), else whatever hyper upgraded.
enum Io {
    Tcp(TcpStream),
    Other(TokioIo<Upgraded>),
}

/// A viewer's connection.
pub struct Socket {
    io: Io,
    reader: Reader,
    token: CancellationToken,
}

impl Socket {
    /// Take over an upgraded connection; `token` ends pending writes on shutdown.
    pub fn new(up: Upgraded, token: CancellationToken) -> Self {
        let mut reader = Reader::default();
        let io = match up.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                // Bytes hyper read past the handshake belong to the WebSocket.
                reader.buffer().extend_from_slice(&parts.read_buf);
                Io::Tcp(parts.io.into_inner())
            }
            Err(up) => Io::Other(TokioIo::new(up)),
        };
        Self { io, reader, token }
    }

    /// Whether frames can go out by `sendfile` (a plain TCP connection).
    pub fn is_tcp(&self) -> bool {
        matches!(self.io, Io::Tcp(_))
    }

    /// Send `file` from byte `from` on by `sendfile` (only on a TCP connection).
    #[cfg(target_os = "linux")]
    pub async fn send_file(
        &mut self,
        file: &super::sealed::SealedFile,
        from: u64,
    ) -> io::Result<()> {
        let Io::Tcp(tcp) = &self.io else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        until_shutdown(&self.token, file.send_to(tcp, from)).await
    }

    /// Write `buf` whole (vectored when it has several chunks).
    pub async fn send(&mut self, mut buf: impl Buf + Send) -> io::Result<()> {
        let token = self.token.clone();
        until_shutdown(&token, self.write_all_buf(&mut buf)).await
    }

    /// Write one small frame (text, pong).
    pub async fn send_small(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.send(codec::small_frame(opcode, payload)).await
    }

    /// Send a close frame with `code` (best effort, bounded in time).
    pub async fn close(&mut self, code: u16) {
        let mut frame = codec::close_frame(code);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.write_all_buf(&mut frame)).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            match &mut self.io {
                Io::Tcp(t) => t.shutdown().await,
                Io::Other(o) => o.shutdown().await,
            }
        })
        .await;
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
            let buf = self.reader.buffer();
            let read = match &mut self.io {
                Io::Tcp(t) => t.read_buf(buf).await,
                Io::Other(o) => o.read_buf(buf).await,
            };
            match read {
                Ok(0) | Err(_) => return Incoming::Gone,
                Ok(_) => {}
            }
        }
    }

    async fn write_all_buf(&mut self, buf: &mut (impl Buf + Send)) -> io::Result<()> {
        match &mut self.io {
            Io::Tcp(t) => t.write_all_buf(buf).await,
            Io::Other(o) => o.write_all_buf(buf).await,
        }
    }
}

/// Run a write unless the server shuts down first.
async fn until_shutdown<T>(
    token: &CancellationToken,
    write: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::select! {
        r = write => r,
        _ = token.cancelled() => Err(io::ErrorKind::Interrupted.into()),
    }
}
