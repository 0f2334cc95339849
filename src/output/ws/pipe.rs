//! Zero-copy sends on Linux (docs/design/0005-websocket-fanout.md): a frame's
//! bytes are written once into a pipe; for each viewer, `tee` duplicates the
//! pipe's page references into the viewer's own pipe, and `splice` moves
//! them into the socket. The kernel never copies the JPEG per viewer, and,
//! unlike `sendfile` from a file, does not look its pages up per viewer.
//!
//! The pages of a frame's pipe are never written again: nothing is written
//! to that pipe after it is filled, and `tee` clears the merge flag on the
//! buffers it links, so a later write into a viewer's pipe gets a new page.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use tokio::net::TcpStream;

use crate::sys;

const PAGE: usize = 4096;

fn new_pipe(size: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
    let (r, w) = sys::pipe()?;
    let capacity = set_capacity(r.as_fd(), size)?;
    Ok((r, w, capacity))
}

/// Resize a pipe to hold at least `size` bytes; the size it got.
fn set_capacity(fd: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    sys::set_pipe_size(fd, size.max(PAGE).next_power_of_two())
}

/// A frame's bytes held in a pipe that is never read, only `tee`d from.
#[derive(Debug)]
pub struct FramePipe {
    read: OwnedFd,
    _write: OwnedFd,
    len: usize,
}

impl FramePipe {
    /// A pipe holding `parts` one after another. Fails when the pipe cannot
    /// be made that large (over `/proc/sys/fs/pipe-max-size` or the user's
    /// pipe quota).
    pub fn new(parts: &[&[u8]]) -> io::Result<FramePipe> {
        let len = parts.iter().map(|p| p.len()).sum();
        let (read, write, _) = new_pipe(len)?;
        for p in parts {
            let mut done = 0;
            while done < p.len() {
                done += sys::write(write.as_fd(), &p[done..])?;
            }
        }
        Ok(FramePipe {
            read,
            _write: write,
            len,
        })
    }
}

/// A viewer's pipe, between the frame pipes and its socket. It holds at
/// most one frame's messages, loaded only when it is empty.
#[derive(Debug)]
pub struct ViewerPipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl ViewerPipe {
    /// An empty pipe.
    pub fn new() -> io::Result<ViewerPipe> {
        let (read, write, capacity) = new_pipe(PAGE)?;
        Ok(ViewerPipe {
            read,
            write,
            capacity,
        })
    }

    /// Put the whole of `frame` into this empty pipe; how many bytes it now
    /// holds. On an error it is left empty.
    pub fn load(&mut self, frame: &FramePipe) -> io::Result<usize> {
        // Every page of the frame takes a slot.
        let need = frame.len.div_ceil(PAGE) * PAGE;
        if self.capacity < need {
            self.capacity = set_capacity(self.read.as_fd(), need)?;
        }
        match self.fill(frame) {
            Ok(n) if n == frame.len => Ok(n),
            Ok(_) => Err(self.drain_after(io::ErrorKind::WriteZero.into())),
            Err(e) => Err(self.drain_after(e)),
        }
    }

    fn fill(&self, frame: &FramePipe) -> io::Result<usize> {
        // tee does not consume the frame pipe.
        sys::tee(frame.read.as_fd(), self.write.as_fd(), frame.len)
    }

    /// Empty the pipe after a failed load, so it holds no partial message.
    fn drain_after(&self, e: io::Error) -> io::Error {
        let mut scratch = [0u8; PAGE];
        while let Ok(1..) = sys::read(self.read.as_fd(), &mut scratch) {}
        e
    }

    /// One non-blocking `splice` of up to `len` bytes into `tcp`: how many
    /// went, or `WouldBlock` when the socket had no room.
    pub fn splice_to(&self, tcp: &TcpStream, len: usize) -> io::Result<usize> {
        sys::splice(self.read.as_fd(), tcp.as_fd(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, Interest};

    async fn pair() -> (TcpStream, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        (TcpStream::connect(addr).await.unwrap(), reader)
    }

    async fn send(pipe: &ViewerPipe, tcp: &TcpStream, mut left: usize) {
        while left > 0 {
            left -= tcp
                .async_io(Interest::WRITABLE, || pipe.splice_to(tcp, left))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn one_frame_pipe_feeds_many_viewers_whole() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let frame = FramePipe::new(&[b"head", &big]).unwrap();
        assert_eq!(frame.len, 300_004);
        let want = [&b"head"[..], &big].concat().repeat(2);
        for _ in 0..3 {
            let (tcp, reader) = pair().await;
            let mut pipe = ViewerPipe::new().unwrap();
            for _ in 0..2 {
                let n = pipe.load(&frame).unwrap();
                assert_eq!(n, frame.len);
                send(&pipe, &tcp, n).await;
            }
            drop(tcp);
            assert!(reader.await.unwrap() == want, "bytes intact, in order");
        }
    }

    #[test]
    fn a_short_tee_leaves_the_pipe_empty() {
        let frame = FramePipe::new(&[&[7u8; 20_000]]).unwrap();
        let pipe = ViewerPipe::new().unwrap();
        assert_eq!(pipe.capacity, PAGE, "one slot");
        assert_eq!(pipe.fill(&frame).unwrap(), PAGE, "one page fits");
        let e = pipe.drain_after(io::ErrorKind::WriteZero.into());
        assert_eq!(e.kind(), io::ErrorKind::WriteZero, "the error is kept");
        let mut b = [0u8; 8];
        let n = sys::read(pipe.read.as_fd(), &mut b);
        assert!(n.is_err(), "nothing left to read");
    }

    #[test]
    fn load_grows_the_pipe_to_hold_the_frame() {
        let frame = FramePipe::new(&[&[7u8; 20_000]]).unwrap();
        let mut pipe = ViewerPipe::new().unwrap();
        assert_eq!(pipe.load(&frame).unwrap(), 20_000);
        assert!(pipe.capacity >= 5 * PAGE, "grown to {}", pipe.capacity);
    }
}
