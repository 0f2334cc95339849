//! A minimal MJPEG (multipart/x-mixed-replace) client over a raw TCP socket.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// One part of the multipart body.
pub struct Part {
    /// The JPEG bytes.
    pub body: Vec<u8>,
    /// `X-Frame-Seq`.
    pub seq: u64,
    /// `X-Frame-Time-Us`.
    pub time_us: u64,
}

/// An open MJPEG response, read part by part.
pub struct MjpegClient {
    reader: BufReader<TcpStream>,
    pending: std::collections::VecDeque<u8>,
    /// The response's Content-Type.
    pub content_type: String,
}

impl MjpegClient {
    /// GET `path` and read the response headers. `rcvbuf` sets SO_RCVBUF when given.
    pub async fn connect(addr: SocketAddr, path: &str, rcvbuf: Option<u32>) -> MjpegClient {
        let sock = TcpSocket::new_v4().unwrap();
        if let Some(n) = rcvbuf {
            sock.set_recv_buffer_size(n).unwrap();
        }
        let mut tcp = sock.connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut reader = BufReader::new(tcp);
        let mut status = String::new();
        reader.read_line(&mut status).await.unwrap();
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "status line: {status:?}"
        );
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-type:") {
                content_type = v.trim().to_string();
            }
        }
        assert!(!content_type.contains("chunked"));
        MjpegClient {
            reader,
            pending: Default::default(),
            content_type,
        }
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("read line");
        line
    }

    /// The next part; the response uses chunked transfer encoding, which
    /// this reader undoes on the fly.
    pub async fn next_part(&mut self) -> Part {
        // Parts arrive inside HTTP/1.1 chunks; read through a de-chunker.
        let mut headers = Vec::new();
        loop {
            let l = self.dechunked_line().await;
            if l.trim().is_empty() {
                if headers.is_empty() {
                    continue; // CRLF ending the previous part
                }
                break;
            }
            headers.push(l);
        }
        assert!(
            headers[0].starts_with("--"),
            "boundary line: {:?}",
            headers[0]
        );
        let get = |name: &str| {
            headers
                .iter()
                .find_map(|h| {
                    let (k, v) = h.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
                .unwrap_or_else(|| panic!("part has no {name} header: {headers:?}"))
        };
        assert_eq!(get("Content-Type"), "image/jpeg");
        let len: usize = get("Content-Length").parse().unwrap();
        let body = self.dechunked_exact(len).await;
        Part {
            body,
            seq: get("X-Frame-Seq").parse().unwrap(),
            time_us: get("X-Frame-Time-Us").parse().unwrap(),
        }
    }

    /// Read the next part, failing the test after `limit`.
    pub async fn next_part_within(&mut self, limit: Duration) -> Part {
        tokio::time::timeout(limit, self.next_part())
            .await
            .expect("an MJPEG part arrived in time")
    }
}

/// Chunked transfer decoding state lives in the reader: we keep the bytes
/// left in the current chunk in a side buffer.
impl MjpegClient {
    async fn fill_chunk(&mut self) -> Vec<u8> {
        let size_line = self.line().await;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_line:?}"));
        let mut buf = vec![0; size];
        self.reader.read_exact(&mut buf).await.expect("chunk body");
        let mut crlf = [0u8; 2];
        self.reader.read_exact(&mut crlf).await.expect("chunk CRLF");
        buf
    }

    async fn dechunked_line(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            if self.pending.is_empty() {
                let c = self.fill_chunk().await;
                self.pending.extend(c);
            }
            while let Some(b) = self.pending.pop_front() {
                out.push(b);
                if b == b'\n' {
                    return String::from_utf8_lossy(&out).into_owned();
                }
            }
        }
    }

    async fn dechunked_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.pending.is_empty() {
                let c = self.fill_chunk().await;
                self.pending.extend(c);
            }
            let take = (n - out.len()).min(self.pending.len());
            out.extend(self.pending.drain(..take));
        }
        out
    }
}
