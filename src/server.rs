//! The server: a hub of streams, their sources, and the HTTP listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::serve::{serve, Tuning};
use crate::http::{app, AppState};
use crate::stream::{Hub, HubConfig, Publisher, StreamId, StreamOptions};

/// How long open connections get to finish after shutdown is asked for.
const GRACE: Duration = Duration::from_secs(5);

/// A framecast server that is not listening yet: create streams and
/// publishers on it, then [`Server::listen`].
pub struct Server {
    hub: Arc<Hub>,
    config: Arc<Config>,
}

impl Server {
    /// A server for `config`; starts the configured sources.
    /// Needs a tokio runtime.
    pub fn new(config: Config) -> Result<Server> {
        config.validate()?;
        let hub = Hub::new(HubConfig {
            queue: config.queue,
            jpeg_quality: config.jpeg_quality,
        });
        for s in &config.streams {
            crate::source::start(&hub, s)?;
        }
        Ok(Server {
            hub,
            config: Arc::new(config),
        })
    }

    /// The streams.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// A publisher for a new push stream `id` (409 if it exists).
    pub fn publisher(&self, id: &str) -> Result<Publisher> {
        self.hub
            .create(StreamId::parse(id)?, StreamOptions::new("push"))
    }

    /// Bind `addr` (port 0 picks one) and serve until [`Running::shutdown`].
    pub async fn listen(self, addr: SocketAddr) -> Result<Running> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::from(e).context(format!("cannot listen on {addr}")))?;
        let local = listener.local_addr()?;
        let state = AppState::new(self.hub.clone(), self.config.clone(), local).await?;
        let router = app(state);
        let token = CancellationToken::new();
        let stop = token.clone();
        let hub = self.hub.clone();
        let tuning = Tuning {
            send_buffer: self.config.tcp_send_buffer,
        };
        let serve = serve(listener, router, tuning, async move {
            stop.cancelled().await;
            // Ends the long-lived responses (MJPEG, WebSocket) so the drain can finish.
            hub.shutdown();
        });
        let join = tokio::spawn(serve);
        Ok(Running {
            addr: local,
            token,
            join,
            hub: self.hub,
        })
    }
}

/// A listening server.
pub struct Running {
    addr: SocketAddr,
    token: CancellationToken,
    join: JoinHandle<()>,
    hub: Arc<Hub>,
}

impl Running {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The streams.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Stop accepting, end streams, and wait (up to a grace period) for
    /// connections to close.
    pub async fn shutdown(self) {
        self.token.cancel();
        if tokio::time::timeout(GRACE, self.join).await.is_err() {
            tracing::warn!("connections still open after {GRACE:?}; closing anyway");
        }
    }

    /// Serve until `signal` resolves, then shut down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Raise this process's soft limit on open files to its hard limit, as Go
/// programs (go2rtc, MediaMTX) do at start-up: each WebSocket viewer holds a
/// socket and a pipe, and the usual soft limit of 1024 would refuse
/// connections long before the machine runs out. Returns the limit now.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let mut lim = open_file_limit()?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: a valid rlimit no higher than the hard limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur as u64)
}

/// The soft and hard limits on open files.
#[cfg(unix)]
fn open_file_limit() -> std::io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(lim)
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn open_file_limit_reaches_the_hard_limit() {
        let now = super::raise_open_file_limit().unwrap();
        let lim = super::open_file_limit().unwrap();
        assert_eq!(lim.rlim_cur, lim.rlim_max, "soft = hard");
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
        let soft = lim.rlim_cur as u64;
        assert_eq!(now, soft);
    }
}
