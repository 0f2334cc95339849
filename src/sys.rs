//! The one module with `unsafe`: thin, safe wrappers over the few system
//! calls framecast makes directly (pipes, `tee`, `splice`, the unsent bytes
//! of a socket, open-file limits).
//! Every other module is `#![deny(unsafe_code)]` through the crate root.
//!
//! Each wrapper takes owned or borrowed descriptors and plain slices, checks
//! the result, and turns a failure into `io::Error::last_os_error()`.
#![allow(unsafe_code)]

use std::io;
#[cfg(unix)]
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A syscall's `ssize_t` result as bytes done, or the OS error.
#[cfg(unix)]
fn check(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
#[cfg(target_os = "linux")]
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors; the result is checked.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just returned to us and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Resize a pipe to `size` bytes (a power of two at least a page); the size it got.
#[cfg(target_os = "linux")]
pub fn set_pipe_size(pipe: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    let Ok(want) = libc::c_int::try_from(size) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    // SAFETY: fcntl on a descriptor the caller holds open.
    let got = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, want) };
    check(got as isize)
}

/// One `write(2)` of `buf`; how many bytes went.
#[cfg(unix)]
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: a valid buffer and length; the descriptor is open.
    check(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// One `read(2)` into `buf`; how many bytes came (0 at end of file).
#[cfg(unix)]
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: a valid buffer and length; the descriptor is open.
    check(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// Non-blocking `tee(2)`: link up to `len` bytes of pipe `from` into pipe
/// `to` without consuming them.
#[cfg(target_os = "linux")]
pub fn tee(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_NONBLOCK;
    // SAFETY: two open pipes.
    check(unsafe { libc::tee(from.as_raw_fd(), to.as_raw_fd(), len, flags) })
}

/// Non-blocking `splice(2)` of up to `len` bytes from a pipe into a socket.
#[cfg(target_os = "linux")]
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let null = std::ptr::null_mut();
    let flags = libc::SPLICE_F_NONBLOCK;
    // SAFETY: open descriptors; null offsets are valid for pipes and sockets.
    check(unsafe { libc::splice(from.as_raw_fd(), null, to.as_raw_fd(), null, len, flags) })
}

/// `SIOCOUTQNSD` from `linux/sockios.h` (the `libc` crate lacks it).
#[cfg(target_os = "linux")]
const SIOCOUTQNSD: libc::Ioctl = 0x894B;

/// Bytes written into TCP socket `fd` that the kernel has not sent yet
/// (`SIOCOUTQNSD`; bytes sent but not yet acknowledged are not counted).
///
/// A closed or reused descriptor gives an error or another socket's count,
/// never undefined behaviour: the call only reads an integer.
#[cfg(target_os = "linux")]
pub fn tcp_unsent_bytes(fd: std::os::fd::RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: the ioctl writes one c_int through a valid pointer.
    if unsafe { libc::ioctl(fd, SIOCOUTQNSD, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Elsewhere the count is unknown.
#[cfg(not(target_os = "linux"))]
pub fn tcp_unsent_bytes(_fd: std::os::fd::RawFd) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Raise this process's soft limit on open files to its hard limit, as Go
/// programs (go2rtc, MediaMTX) do at start-up: each WebSocket viewer holds a
/// socket and a pipe, and the usual soft limit of 1024 would refuse
/// connections long before the machine runs out. Returns the limit now.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut lim = open_file_limit()?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: a valid rlimit no higher than the hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur as u64)
}

/// The soft and hard limits on open files.
#[cfg(unix)]
fn open_file_limit() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn open_file_limit_reaches_the_hard_limit() {
        let now = raise_open_file_limit().unwrap();
        let lim = open_file_limit().unwrap();
        assert_eq!(lim.rlim_cur, lim.rlim_max, "soft = hard");
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
        let soft = lim.rlim_cur as u64;
        assert_eq!(now, soft);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pipe_write_tee_read() {
        use std::os::fd::AsFd;
        let (r, w) = pipe().unwrap();
        let (r2, w2) = pipe().unwrap();
        assert!(set_pipe_size(r.as_fd(), 8192).unwrap() >= 8192);
        assert_eq!(write(w.as_fd(), b"hello").unwrap(), 5);
        assert_eq!(tee(r.as_fd(), w2.as_fd(), 5).unwrap(), 5);
        let mut b = [0u8; 8];
        assert_eq!(read(r2.as_fd(), &mut b).unwrap(), 5);
        assert_eq!(&b[..5], b"hello");
        assert_eq!(
            read(r.as_fd(), &mut b).unwrap(),
            5,
            "tee left the source whole"
        );
        let e = read(r.as_fd(), &mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn unsent_bytes_grow_while_the_peer_reads_nothing() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _rx = listener.accept().unwrap().0;
        assert_eq!(tcp_unsent_bytes(tx.as_raw_fd()).unwrap(), 0);
        tx.set_nonblocking(true).unwrap();
        let chunk = [0u8; 64 * 1024];
        while tx.write(&chunk).is_ok() {}
        assert!(
            tcp_unsent_bytes(tx.as_raw_fd()).unwrap() > 0,
            "the receiver's window is full"
        );
        assert!(tcp_unsent_bytes(-1).is_err());
    }
}
