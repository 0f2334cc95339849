//! The composition root: a hub of streams, their sources, the application
//! state and the router, and the HTTP listener. Everything else is a part
//! this module puts together; nothing below imports it.

pub mod api;
pub mod config;
pub mod metrics;
pub mod pages;
mod router;
mod state;

pub use router::{app, register_outputs, OUTPUT_KINDS};
pub use state::AppState;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::http::serve::{serve, Tuning};
use crate::stream::{Hub, HubConfig, Publisher, StreamId, StreamOptions};
use config::Config;

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
        register_outputs(&hub);
        for s in &config.streams {
            crate::source::start(&hub, &s.id, s.queue, &s.source)?;
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

pub use crate::sys::raise_open_file_limit;
