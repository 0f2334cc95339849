//! Lean benchmark viewers: an MJPEG (multipart) reader and a minimal
//! WebSocket reader over a raw `TcpStream`, used by `framecast-bench mjpeg|ws`
//! (they live here so their parser tests run with `cargo test`, which does
//! not build the bench).
//!
//! Both parse only headers and skip JPEG bodies without copying them out of
//! one reused read buffer, so 200 viewers cost the bench little CPU. Each
//! completed frame is logged as (receive time, latency), both in µs, where
//! latency = receive time − the server's publish time (same machine clock).

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Size of the per-viewer read buffer.
const READ_BUF: usize = 128 * 1024;
/// The longest header block (HTTP response or multipart part) we accept.
const MAX_HEADER: usize = 8 * 1024;

/// What one viewer saw.
#[derive(Debug, Default)]
pub struct ViewerLog {
    /// (receive time µs since the Unix epoch, latency µs) per frame.
    pub frames: Vec<(u64, i64)>,
    /// Why the viewer stopped early, if it did.
    pub error: Option<String>,
}

/// Microseconds since the Unix epoch now.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Open a connection and send a GET for `path`.
pub async fn connect(addr: &str, path: &str, extra_headers: &str) -> anyhow::Result<TcpStream> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra_headers}\r\n");
    s.write_all(req.as_bytes()).await?;
    Ok(s)
}

/// The WebSocket upgrade headers (the key is fixed; we do not check the accept).
pub const WS_UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// Accumulates a header block until `\r\n\r\n`, copying at most
/// `MAX_HEADER` bytes (never the body that follows).
#[derive(Default)]
struct HeaderAcc {
    buf: Vec<u8>,
}

impl HeaderAcc {
    /// Feed `data`; returns how many bytes of it belong to the header and
    /// whether the header is complete.
    fn feed(&mut self, data: &[u8]) -> anyhow::Result<(usize, bool)> {
        let old = self.buf.len();
        let take = data.len().min(MAX_HEADER.saturating_sub(old));
        self.buf.extend_from_slice(&data[..take]);
        let from = old.saturating_sub(3);
        if let Some(p) = find(&self.buf[from..], b"\r\n\r\n") {
            let end = from + p + 4;
            self.buf.truncate(end);
            return Ok((end - old, true));
        }
        if self.buf.len() >= MAX_HEADER {
            anyhow::bail!("header block longer than {MAX_HEADER} bytes");
        }
        Ok((take, false))
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.buf).unwrap_or("")
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (case-insensitive) in a header block.
fn header<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Read the HTTP response head; returns it and the bytes after it in `buf[..n]`.
async fn read_head(
    s: &mut TcpStream,
    buf: &mut [u8],
    end: Instant,
) -> anyhow::Result<(String, usize, usize)> {
    let mut acc = HeaderAcc::default();
    loop {
        let n = timeout_at(end, s.read(buf)).await??;
        if n == 0 {
            anyhow::bail!("connection closed before the response head");
        }
        let (used, done) = acc.feed(&buf[..n])?;
        if done {
            return Ok((acc.text().to_string(), used, n));
        }
    }
}

/// Read multipart MJPEG from `s` until `end`.
pub async fn mjpeg_viewer(mut s: TcpStream, end: Instant) -> ViewerLog {
    let mut log = ViewerLog::default();
    if let Err(e) = mjpeg_loop(&mut s, end, &mut log).await {
        if Instant::now() < end {
            log.error = Some(e.to_string());
        }
    }
    log
}

enum Part {
    Head(HeaderAcc),
    Body { left: usize, made_us: u64 },
}

/// Parses multipart parts out of the (de-chunked) body bytes.
struct Multipart {
    part: Part,
}

impl Multipart {
    fn feed(&mut self, mut data: &[u8], log: &mut ViewerLog) -> anyhow::Result<()> {
        while !data.is_empty() {
            match &mut self.part {
                Part::Head(acc) => {
                    let (used, done) = acc.feed(data)?;
                    data = &data[used..];
                    if done {
                        let text = acc.text();
                        let left = header(text, "content-length")
                            .and_then(|v| v.parse().ok())
                            .ok_or_else(|| anyhow::anyhow!("part without Content-Length"))?;
                        let made_us = header(text, "x-frame-time-us")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        self.part = Part::Body { left, made_us };
                    }
                }
                Part::Body { left, made_us } => {
                    let take = (*left).min(data.len());
                    data = &data[take..];
                    *left -= take;
                    if *left == 0 {
                        let now = unix_us();
                        log.frames.push((now, now as i64 - *made_us as i64));
                        self.part = Part::Head(HeaderAcc::default());
                    }
                }
            }
        }
        Ok(())
    }
}

/// HTTP/1.1 chunked transfer decoding, handing out payload slices in place.
enum Chunked {
    /// Reading a `size[;ext]\r\n` line.
    Size(Vec<u8>),
    /// Inside chunk data.
    Data(usize),
    /// Skipping the CRLF after chunk data (bytes left).
    Crlf(usize),
}

impl Chunked {
    fn feed(
        &mut self,
        mut data: &[u8],
        mut out: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        while !data.is_empty() {
            match self {
                Chunked::Size(line) => {
                    let nl = data.iter().position(|b| *b == b'\n');
                    let take = nl.map_or(data.len(), |p| p + 1);
                    line.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if line.len() > 1024 {
                        anyhow::bail!("chunk size line too long");
                    }
                    if nl.is_some() {
                        let text = std::str::from_utf8(line)?;
                        let hex = text.split([';', '\r', '\n']).next().unwrap_or("");
                        let size = usize::from_str_radix(hex.trim(), 16)?;
                        if size == 0 {
                            anyhow::bail!("server ended the stream");
                        }
                        *self = Chunked::Data(size);
                    }
                }
                Chunked::Data(left) => {
                    let take = (*left).min(data.len());
                    out(&data[..take])?;
                    data = &data[take..];
                    *left -= take;
                    if *left == 0 {
                        *self = Chunked::Crlf(2);
                    }
                }
                Chunked::Crlf(left) => {
                    let take = (*left).min(data.len());
                    data = &data[take..];
                    *left -= take;
                    if *left == 0 {
                        *self = Chunked::Size(Vec::with_capacity(16));
                    }
                }
            }
        }
        Ok(())
    }
}

async fn mjpeg_loop(s: &mut TcpStream, end: Instant, log: &mut ViewerLog) -> anyhow::Result<()> {
    let mut buf = vec![0u8; READ_BUF];
    let (head, mut at, mut n) = read_head(s, &mut buf, end).await?;
    if !head.starts_with("HTTP/1.1 200") {
        anyhow::bail!("unexpected response: {}", head.lines().next().unwrap_or(""));
    }
    let mut chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        .then(|| Chunked::Size(Vec::with_capacity(16)));
    let mut parts = Multipart {
        part: Part::Head(HeaderAcc::default()),
    };
    loop {
        let data = &buf[at..n];
        match &mut chunked {
            Some(c) => c.feed(data, |d| parts.feed(d, log))?,
            None => parts.feed(data, log)?,
        }
        n = match timeout_at(end, s.read(&mut buf)).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        if n == 0 {
            anyhow::bail!("server closed the stream");
        }
        at = 0;
    }
}

/// Read WebSocket frames (`?frameinfo=1`) from `s` until `end`.
pub async fn ws_viewer(mut s: TcpStream, end: Instant) -> ViewerLog {
    let mut log = ViewerLog::default();
    if let Err(e) = ws_loop(&mut s, end, &mut log).await {
        if Instant::now() < end {
            log.error = Some(e.to_string());
        }
    }
    // A polite close frame (masked, empty); errors do not matter now.
    let _ = s.write_all(&[0x88, 0x80, 0, 0, 0, 0]).await;
    log
}

/// Where the WebSocket parser is.
enum WsState {
    /// Collecting the 2-14 byte frame header.
    Head { hdr: [u8; 14], have: usize },
    /// Inside a payload: text is collected, anything else skipped.
    Payload { opcode: u8, fin: bool, left: u64 },
}

fn ws_header_len(hdr: &[u8], have: usize) -> usize {
    if have < 2 {
        return 2;
    }
    let masked = if hdr[1] & 0x80 != 0 { 4 } else { 0 };
    masked
        + match hdr[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
}

fn ws_payload_len(hdr: &[u8]) -> u64 {
    match hdr[1] & 0x7f {
        126 => u16::from_be_bytes([hdr[2], hdr[3]]) as u64,
        127 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&hdr[2..10]);
            u64::from_be_bytes(b)
        }
        l => l as u64,
    }
}

/// `"ts_us":123` out of a frameinfo JSON text.
fn ts_us(text: &[u8]) -> Option<u64> {
    let p = find(text, b"\"ts_us\":")? + 8;
    let digits: Vec<u8> = text[p..]
        .iter()
        .copied()
        .skip_while(|c| *c == b' ')
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

async fn ws_loop(s: &mut TcpStream, end: Instant, log: &mut ViewerLog) -> anyhow::Result<()> {
    let mut buf = vec![0u8; READ_BUF];
    let (head, mut at, mut n) = read_head(s, &mut buf, end).await?;
    if !head.starts_with("HTTP/1.1 101") {
        anyhow::bail!("no upgrade: {}", head.lines().next().unwrap_or(""));
    }
    let mut st = WsState::Head {
        hdr: [0; 14],
        have: 0,
    };
    let mut text: Vec<u8> = Vec::with_capacity(256);
    let mut made_us = 0u64;
    let mut msg_opcode = 0u8;
    loop {
        while at < n {
            match &mut st {
                WsState::Head { hdr, have } => {
                    let want = ws_header_len(hdr, *have);
                    let take = (want - *have).min(n - at);
                    hdr[*have..*have + take].copy_from_slice(&buf[at..at + take]);
                    *have += take;
                    at += take;
                    if *have == ws_header_len(hdr, *have) && *have >= 2 {
                        let opcode = hdr[0] & 0x0f;
                        if opcode == 8 {
                            anyhow::bail!("server closed the WebSocket");
                        }
                        if opcode != 0 {
                            msg_opcode = opcode;
                            text.clear();
                        }
                        st = WsState::Payload {
                            opcode: msg_opcode,
                            fin: hdr[0] & 0x80 != 0,
                            left: ws_payload_len(hdr),
                        };
                    }
                }
                WsState::Payload { opcode, fin, left } => {
                    let take = (*left).min((n - at) as u64) as usize;
                    if *opcode == 1 && text.len() < MAX_HEADER {
                        text.extend_from_slice(&buf[at..at + take]);
                    }
                    at += take;
                    *left -= take as u64;
                    if *left == 0 {
                        if *fin {
                            match *opcode {
                                1 => made_us = ts_us(&text).unwrap_or(made_us),
                                2 => {
                                    let now = unix_us();
                                    log.frames.push((now, now as i64 - made_us as i64));
                                }
                                _ => {}
                            }
                        }
                        st = WsState::Head {
                            hdr: [0; 14],
                            have: 0,
                        };
                    }
                }
            }
        }
        n = match timeout_at(end, s.read(&mut buf)).await {
            Err(_) => return Ok(()),
            Ok(r) => r?,
        };
        if n == 0 {
            anyhow::bail!("server closed the connection");
        }
        at = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_acc_stops_at_blank_line() {
        let mut acc = HeaderAcc::default();
        let (used, done) = acc.feed(b"A: 1\r\n\r").unwrap();
        assert_eq!((used, done), (7, false));
        let (used, done) = acc.feed(b"\nBODY").unwrap();
        assert_eq!((used, done), (1, true));
        assert_eq!(header(acc.text(), "a"), Some("1"));
    }

    #[test]
    fn chunked_multipart_yields_frames() {
        let body = b"--b\r\nContent-Length: 3\r\nX-Frame-Time-Us: 5\r\n\r\nabc\r\n--b\r\nContent-Length: 2\r\n\r\nxy";
        let mut wire = Vec::new();
        for piece in body.chunks(7) {
            wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            wire.extend_from_slice(piece);
            wire.extend_from_slice(b"\r\n");
        }
        let mut c = Chunked::Size(Vec::new());
        let mut parts = Multipart {
            part: Part::Head(HeaderAcc::default()),
        };
        let mut log = ViewerLog::default();
        for bytes in wire.chunks(5) {
            c.feed(bytes, |d| parts.feed(d, &mut log)).unwrap();
        }
        assert_eq!(log.frames.len(), 2);
    }

    #[test]
    fn ts_us_is_read_from_frameinfo() {
        assert_eq!(
            ts_us(br#"{"type":"frame","ts_us":1234,"seq":1}"#),
            Some(1234)
        );
        assert_eq!(ts_us(br#"{"type":"frame"}"#), None);
    }
}
