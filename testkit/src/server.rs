//! Start a real framecast server on an ephemeral loopback port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use framecast::config::Config;
use framecast::server::Running;
use framecast::stream::Hub;

/// A running server for one test; shut down on drop of the runtime.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The server's streams, for publishing from the test.
    pub hub: Arc<Hub>,
    running: Option<Running>,
}

impl TestServer {
    /// Start with a TOML config (listen address is forced to 127.0.0.1:0).
    pub async fn start(toml: &str) -> TestServer {
        let mut cfg = Config::from_toml(toml).expect("test config parses");
        cfg.listen = "127.0.0.1:0".parse().unwrap();
        Self::with_config(cfg).await
    }

    /// Start with a config value (its listen address is used as given).
    pub async fn with_config(cfg: Config) -> TestServer {
        let listen = cfg.listen;
        let server = framecast::Server::new(cfg).expect("server starts");
        let hub = server.hub().clone();
        let running = server.listen(listen).await.expect("server listens");
        let addr = running.local_addr();
        TestServer {
            url: format!("http://{addr}"),
            addr,
            hub,
            running: Some(running),
        }
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The body of `GET path` as text (panics on a transport error).
    pub async fn text(&self, path: &str) -> String {
        let resp = reqwest::get(self.at(path)).await.expect("GET answers");
        resp.text().await.expect("a text body")
    }

    /// Graceful shutdown.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Poll `cond` every 20 ms until it is true or `timeout` passes; returns whether it became true.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True when e2e tools are required (CI): a missing tool is then a failure.
pub fn require_e2e() -> bool {
    std::env::var("FRAMECAST_REQUIRE_E2E").is_ok_and(|v| v == "1")
}

/// Whether `tool` runs; panics in CI when it does not, prints a loud SKIP otherwise.
pub fn have_tool(tool: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .arg("-version")
        .output()
        .is_ok();
    if !ok {
        assert!(
            !require_e2e(),
            "{tool} is required (FRAMECAST_REQUIRE_E2E=1) but was not found"
        );
        eprintln!("SKIP: {tool} not found; install it to run this test");
    }
    ok
}
