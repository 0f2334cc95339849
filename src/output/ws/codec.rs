//! RFC 6455 framing, sans-IO: the headers of the frames the server sends, and
//! a reader of what a viewer sends back.
//!
//! A viewer only ever needs to send control frames (close, ping, pong), so
//! the reader buffers at most one control frame (≤ 139 bytes) and skips the
//! payload of any data frame as it streams past: memory stays bounded
//! whatever the client sends.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Text message.
pub const OP_TEXT: u8 = 0x1;
/// Binary message.
pub const OP_BINARY: u8 = 0x2;
/// Close.
pub const OP_CLOSE: u8 = 0x8;
/// Ping.
pub const OP_PING: u8 = 0x9;
/// Pong.
pub const OP_PONG: u8 = 0xA;

/// Close code: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code: the server is going away (shutdown).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code: protocol error.
pub const CLOSE_PROTOCOL: u16 = 1002;

/// Largest control-frame payload (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;

/// Append the header of a final, unmasked server frame with `len` payload
/// bytes to `out`.
pub fn put_header(out: &mut BytesMut, opcode: u8, len: usize) {
    out.put_u8(0x80 | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if len <= u16::MAX as usize {
        out.put_u8(126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
}

/// A whole small frame (header and payload) in one buffer.
pub fn small_frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 10);
    put_header(&mut out, opcode, payload.len());
    out.put_slice(payload);
    out.freeze()
}

/// A close frame with `code` and no reason.
pub fn close_frame(code: u16) -> Bytes {
    small_frame(OP_CLOSE, &code.to_be_bytes())
}

/// What a viewer sent that the server must act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Ping with its payload: answer with a pong carrying the same bytes.
    Ping(Bytes),
    /// Close, with the peer's status code if it gave one.
    Close(Option<u16>),
}

/// The client broke the protocol; the server closes with 1002.
#[derive(Debug, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

/// Reads a client's frames from bytes as they arrive.
#[derive(Debug, Default)]
pub struct Reader {
    buf: BytesMut,
    /// Bytes of an ignored data frame still to drop.
    skip: u64,
}

struct Head {
    opcode: u8,
    len: u64,
    mask: [u8; 4],
    size: usize,
}

impl Reader {
    /// The buffer to read socket bytes into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.buf.reserve(1024);
        &mut self.buf
    }

    /// The next event in what has been read so far, if a whole one is there.
    pub fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            self.drop_skipped();
            if self.skip > 0 {
                return Ok(None);
            }
            let Some(head) = parse_head(&self.buf)? else {
                return Ok(None);
            };
            if head.opcode < OP_CLOSE {
                // Text, binary or continuation from a viewer: not used.
                self.buf.advance(head.size);
                self.skip = head.len;
                continue;
            }
            let total = head.size + head.len as usize;
            if self.buf.len() < total {
                return Ok(None);
            }
            self.buf.advance(head.size);
            let mut payload = self.buf.split_to(head.len as usize);
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= head.mask[i % 4];
            }
            if let Some(ev) = control_event(head.opcode, payload.freeze())? {
                return Ok(Some(ev));
            }
        }
    }

    fn drop_skipped(&mut self) {
        let n = self.skip.min(self.buf.len() as u64);
        self.buf.advance(n as usize);
        self.skip -= n;
    }
}

fn control_event(opcode: u8, payload: Bytes) -> Result<Option<Event>, ProtocolError> {
    match opcode {
        OP_PING => Ok(Some(Event::Ping(payload))),
        OP_PONG => Ok(None),
        _ => match payload.len() {
            0 => Ok(Some(Event::Close(None))),
            1 => Err(ProtocolError("close frame with a 1-byte payload")),
            _ => Ok(Some(Event::Close(Some(u16::from_be_bytes([
                payload[0], payload[1],
            ]))))),
        },
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, ProtocolError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let opcode = b0 & 0x0F;
    let fin = b0 & 0x80 != 0;
    if b0 & 0x70 != 0 {
        return Err(ProtocolError("reserved bits set without an extension"));
    }
    if !matches!(opcode, 0x0..=0x2 | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(ProtocolError("unknown opcode"));
    }
    if b1 & 0x80 == 0 {
        return Err(ProtocolError("client frames must be masked"));
    }
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let size = 2 + ext + 4;
    if buf.len() < size {
        return Ok(None);
    }
    let len = match ext {
        0 => (b1 & 0x7F) as u64,
        2 => u16::from_be_bytes([buf[2], buf[3]]) as u64,
        _ => u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")),
    };
    if opcode >= OP_CLOSE && (len > MAX_CONTROL as u64 || !fin) {
        return Err(ProtocolError("control frame too long or fragmented"));
    }
    let mask = buf[2 + ext..size].try_into().expect("4 bytes");
    Ok(Some(Head {
        opcode,
        len,
        mask,
        size,
    }))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
