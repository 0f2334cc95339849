//! Pacing a viewer by its socket (docs/design/0007-pacing.md): a viewer
//! gets a new frame only once most of the previous one has left the
//! server's socket; until then the newest frame is held, replacing any held
//! one. Frames then wait in the stream (latest wins), not in the kernel's
//! send buffer, so a slow reader gets current frames. Bytes in flight are
//! not counted, so a far viewer with bandwidth to spare keeps the full rate.
//!
//! Used by MJPEG (through [`crate::http::serve::ConnFd`], set per connection by the accept loop)
//! and by WebSocket viewers on plain TCP.

use std::os::fd::RawFd;
use std::time::Duration;

/// The first wait before looking at a held-up socket again.
const FIRST_WAIT: Duration = Duration::from_millis(16);
/// The longest wait between two looks (about a frame at 30 fps).
const LONGEST_WAIT: Duration = Duration::from_millis(32);
/// A new frame may go once no more than this share of the last one is unsent.
const UNSENT_SHARE: usize = 4;

/// One viewer's pacing state.
#[derive(Debug)]
pub struct Pace {
    fd: Option<RawFd>,
    /// Bytes of the last frame handed to the socket.
    last_len: usize,
    /// The next wait while held up (doubles up to [`LONGEST_WAIT`]).
    wait: Duration,
}

impl Default for Pace {
    /// A pace that never holds (no socket).
    fn default() -> Self {
        Pace::new(None)
    }
}

impl Pace {
    /// Pace the socket `fd`; `None` (not a TCP socket we know) never holds.
    pub fn new(fd: Option<RawFd>) -> Pace {
        Pace {
            fd,
            last_len: 0,
            wait: FIRST_WAIT,
        }
    }

    /// Whether a new frame may be written now: the socket's unsent bytes
    /// are at most a quarter of the last frame. When the count is unknown
    /// the frame goes.
    pub fn ready(&self) -> bool {
        let Some(fd) = self.fd else { return true };
        match crate::sys::tcp_unsent_bytes(fd) {
            Ok(unsent) => unsent <= self.last_len / UNSENT_SHARE,
            Err(_) => true,
        }
    }

    /// A frame of `len` bytes was handed to the socket.
    pub fn sent(&mut self, len: usize) {
        self.last_len = len;
        self.wait = FIRST_WAIT;
    }

    /// How long to wait before looking again, when held up: short at first,
    /// then longer, so a stalled reader costs a few wake-ups per frame.
    pub fn next_wait(&mut self) -> Duration {
        let w = self.wait;
        self.wait = (w * 2).min(LONGEST_WAIT);
        w
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn holds_while_the_last_frame_is_unsent_and_backs_off() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _rx = listener.accept().unwrap().0;
        let mut pace = Pace::new(Some(tx.as_raw_fd()));
        assert!(pace.ready(), "nothing written yet");
        tx.set_nonblocking(true).unwrap();
        let frame = [0u8; 32 * 1024];
        let mut written = 0;
        while let Ok(n) = tx.write(&frame) {
            written += n;
        }
        pace.sent(frame.len());
        assert!(
            !pace.ready(),
            "{written} bytes written, the peer reads none"
        );
        let waits: Vec<_> = (0..6).map(|_| pace.next_wait().as_millis()).collect();
        assert_eq!(waits, [16, 32, 32, 32, 32, 32]);
        pace.sent(frame.len());
        assert_eq!(pace.next_wait(), FIRST_WAIT, "a sent frame resets the wait");
        assert!(Pace::new(None).ready(), "an unknown socket is never held");
    }
}
