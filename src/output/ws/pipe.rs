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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::net::TcpStream;

const PAGE: usize = 4096;

fn new_pipe(size: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors; the result is checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just returned to us and are owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let capacity = set_capacity(r.as_raw_fd(), size)?;
    Ok((r, w, capacity))
}

/// Resize a pipe to hold at least `size` bytes; the size it got.
fn set_capacity(fd: RawFd, size: usize) -> io::Result<usize> {
    let want = size.max(PAGE).next_power_of_two();
    let Ok(want) = libc::c_int::try_from(want) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    // SAFETY: fcntl on a descriptor we own.
    let got = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, want) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got as usize)
}

fn check(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
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
                let rest = &p[done..];
                // SAFETY: a valid buffer and length; the pipe is ours.
                let n = unsafe { libc::write(write.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
                done += check(n)?;
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
            self.capacity = set_capacity(self.read.as_raw_fd(), need)?;
        }
        match self.fill(frame) {
            Ok(n) if n == frame.len => Ok(n),
            Ok(_) => Err(self.drain_after(io::ErrorKind::WriteZero.into())),
            Err(e) => Err(self.drain_after(e)),
        }
    }

    fn fill(&self, frame: &FramePipe) -> io::Result<usize> {
        let (r, w) = (frame.read.as_raw_fd(), self.write.as_raw_fd());
        // SAFETY: two open pipes; tee does not consume the frame pipe.
        check(unsafe { libc::tee(r, w, frame.len, libc::SPLICE_F_NONBLOCK) })
    }

    /// Empty the pipe after a failed load, so it holds no partial message.
    fn drain_after(&self, e: io::Error) -> io::Error {
        let mut scratch = [0u8; PAGE];
        loop {
            let fd = self.read.as_raw_fd();
            // SAFETY: a valid buffer and length; the pipe is non-blocking.
            let n = unsafe { libc::read(fd, scratch.as_mut_ptr().cast(), scratch.len()) };
            if n <= 0 {
                return e;
            }
        }
    }

    /// One non-blocking `splice` of up to `len` bytes into `tcp`: how many
    /// went, or `WouldBlock` when the socket had no room.
    pub fn splice_to(&self, tcp: &TcpStream, len: usize) -> io::Result<usize> {
        let (from, to) = (self.read.as_raw_fd(), tcp.as_raw_fd());
        let null = std::ptr::null_mut();
        let flags = libc::SPLICE_F_NONBLOCK;
        // SAFETY: open descriptors; null offsets are valid for pipes and sockets.
        check(unsafe { libc::splice(from, null, to, null, len, flags) })
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
        // SAFETY: a valid buffer; the pipe is non-blocking.
        let n = unsafe { libc::read(pipe.read.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
        assert_eq!(n, -1, "nothing left to read");
    }

    #[test]
    fn load_grows_the_pipe_to_hold_the_frame() {
        let frame = FramePipe::new(&[&[7u8; 20_000]]).unwrap();
        let mut pipe = ViewerPipe::new().unwrap();
        assert_eq!(pipe.load(&frame).unwrap(), 20_000);
        assert!(pipe.capacity >= 5 * PAGE, "grown to {}", pipe.capacity);
    }
}
