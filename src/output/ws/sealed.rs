//! Zero-copy sends on Linux: a frame's wire bytes are written once into a
//! sealed memfd, and every viewer's socket gets them with `sendfile`, which
//! hands the kernel references to those pages instead of copying them.
//!
//! The seals (no write, grow or shrink) make the pages immutable, which is
//! what makes it safe for in-flight TCP segments to keep pointing at them
//! after the file is closed. See docs/design/0003-websocket-framing.md.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::net::TcpStream;

/// An immutable in-memory file holding one frame's bytes.
#[derive(Debug)]
pub struct SealedFile {
    file: File,
    len: u64,
}

impl SealedFile {
    /// A memfd holding `parts` one after another, sealed against change.
    pub fn new(parts: &[&[u8]]) -> io::Result<SealedFile> {
        // SAFETY: a valid NUL-terminated name and flags; the result is checked.
        let fd = unsafe {
            libc::memfd_create(
                c"framecast-frame".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned to us and is owned by nobody else.
        let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut len = 0;
        for p in parts {
            file.write_all(p)?;
            len += p.len() as u64;
        }
        let seals =
            libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SealedFile { file, len })
    }

    /// One `sendfile` of the bytes from `offset` on to the non-blocking
    /// `tcp`: how many went out, or `WouldBlock` when it had no room.
    pub fn send_some(&self, tcp: &TcpStream, offset: u64) -> io::Result<u64> {
        let mut off = offset as libc::off_t;
        let count = (self.len - offset) as usize;
        // SAFETY: both descriptors are open for the call; `off` is a valid pointer.
        let n = unsafe { libc::sendfile(tcp.as_raw_fd(), self.file.as_raw_fd(), &mut off, count) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, Interest};

    async fn send_to(f: &SealedFile, tcp: &TcpStream, mut offset: u64) -> io::Result<()> {
        while offset < f.len {
            offset += tcp
                .async_io(Interest::WRITABLE, || f.send_some(tcp, offset))
                .await?;
        }
        Ok(())
    }

    #[test]
    fn sealed_file_refuses_writes() {
        let f = SealedFile::new(&[b"abc", b"def"]).unwrap();
        assert_eq!(f.len, 6);
        let mut file = &f.file;
        assert!(file.write_all(b"x").is_err(), "F_SEAL_WRITE holds");
    }

    #[tokio::test]
    async fn sendfile_delivers_the_bytes_from_an_offset() {
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let f = SealedFile::new(&[b"head", &big]).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        send_to(&f, &tcp, 4).await.unwrap();
        drop(tcp);
        assert!(
            reader.await.unwrap() == big,
            "bytes after the offset, in order"
        );
    }
}
