//! Calls into the C library that need `unsafe`, each behind a safe wrapper.
//! New such calls belong here, so the crate's `unsafe` stays in one place.

use std::io;
use std::os::fd::RawFd;

/// `SIOCOUTQNSD` from `linux/sockios.h` (the `libc` crate lacks it).
#[cfg(target_os = "linux")]
const SIOCOUTQNSD: libc::Ioctl = 0x894B;

/// Bytes written into TCP socket `fd` that the kernel has not sent yet
/// (`SIOCOUTQNSD`; bytes sent but not yet acknowledged are not counted).
///
/// A closed or reused descriptor gives an error or another socket's count,
/// never undefined behaviour: the call only reads an integer.
#[cfg(target_os = "linux")]
pub fn tcp_unsent_bytes(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: the ioctl writes one c_int through a valid pointer.
    if unsafe { libc::ioctl(fd, SIOCOUTQNSD, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Elsewhere the count is unknown.
#[cfg(not(target_os = "linux"))]
pub fn tcp_unsent_bytes(_fd: RawFd) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn unsent_bytes_grow_while_the_peer_reads_nothing() {
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
