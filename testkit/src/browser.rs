//! A small Chrome DevTools Protocol client for end-to-end tests.
//!
//! [`Browser::launch`] starts a headless Chromium with a fresh profile and
//! connects to its DevTools WebSocket; [`Browser::new_page`] opens a tab and
//! attaches a flattened session to it; a [`Page`] evaluates JavaScript, polls
//! a condition in the page and takes screenshots. The process is killed when
//! the `Browser` is dropped.
//!
//! When no Chromium is installed, `launch` prints a loud `SKIP:` line and
//! returns `None`, unless `FRAMECAST_REQUIRE_E2E=1`, where it panics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Flags every test browser gets: headless with no sandbox, no GPU, no
/// background, sync or QUIC traffic, a 1280x900 window, and a DevTools port
/// the OS picks.
pub const BASE_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
];

/// Extra flags for tests that use a (fake) webcam.
pub const FAKE_MEDIA_FLAGS: &[&str] = &[
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
];

/// How long to wait for Chromium to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one DevTools command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A CDP event: method, params and the session it came from (if any).
#[derive(Debug, Clone)]
pub struct Event {
    /// E.g. `Runtime.consoleAPICalled`.
    pub method: String,
    /// The event's parameters.
    pub params: Value,
    /// The flattened session the event belongs to; `None` for the browser.
    pub session_id: Option<String>,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value>>>>;

/// The DevTools connection shared by the browser and its pages.
struct Conn {
    out: mpsc::UnboundedSender<String>,
    pending: Arc<Pending>,
    next_id: AtomicU64,
    events: broadcast::Sender<Event>,
}

impl Conn {
    async fn connect(ws_url: &str) -> Result<Arc<Conn>> {
        let mut cfg = WebSocketConfig::default();
        cfg.max_message_size = Some(256 << 20);
        cfg.max_frame_size = Some(256 << 20);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(cfg), false)
            .await
            .with_context(|| format!("connect to DevTools at {ws_url}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Arc<Pending> = Arc::default();
        let (events, _) = broadcast::channel(1024);
        let (p, ev) = (pending.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg {
                    dispatch(&p, &ev, text.as_str());
                }
            }
            // Connection gone: fail every waiting call.
            for (_, tx) in p.lock().drain() {
                let _ = tx.send(Err(anyhow!("DevTools connection closed")));
            }
        });
        Ok(Arc::new(Conn {
            out,
            pending,
            next_id: AtomicU64::new(1),
            events,
        }))
    }

    /// Send `method` with `params` (to `session` when given) and await the result.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        if self.out.send(msg.to_string()).is_err() {
            self.pending.lock().remove(&id);
            bail!("DevTools connection closed before {method}");
        }
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(r)) => r.with_context(|| format!("CDP {method}")),
            Ok(Err(_)) => bail!("DevTools connection closed during {method}"),
            Err(_) => {
                self.pending.lock().remove(&id);
                bail!("CDP {method} timed out after {CALL_TIMEOUT:?}")
            }
        }
    }
}

/// Route one incoming DevTools message: a reply to its caller, an event to subscribers.
fn dispatch(pending: &Pending, events: &broadcast::Sender<Event>, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if let Some(id) = v.get("id").and_then(Value::as_u64) {
        if let Some(tx) = pending.lock().remove(&id) {
            let r = match v.get("error") {
                Some(e) => Err(anyhow!("DevTools error: {e}")),
                None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = tx.send(r);
        }
    } else if let Some(method) = v.get("method").and_then(Value::as_str) {
        let _ = events.send(Event {
            method: method.to_string(),
            params: v.get("params").cloned().unwrap_or(Value::Null),
            session_id: v.get("sessionId").and_then(Value::as_str).map(String::from),
        });
    }
}

/// A headless Chromium under DevTools control; killed on drop.
pub struct Browser {
    child: Child,
    conn: Arc<Conn>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start headless Chromium with [`BASE_FLAGS`] plus `extra_args`.
    ///
    /// Returns `None` (after a loud `SKIP:` line) when no Chromium is on the
    /// PATH, or panics then if `FRAMECAST_REQUIRE_E2E=1`. Panics if Chromium
    /// is there but does not start: that is a real failure.
    pub async fn launch(extra_args: &[&str]) -> Option<Browser> {
        let Some(exe) = find_chromium() else {
            if crate::server::require_e2e() {
                panic!("chromium not found on PATH (tried chromium, chromium-browser, google-chrome) and FRAMECAST_REQUIRE_E2E=1");
            }
            eprintln!("SKIP: chromium not found on PATH (tried chromium, chromium-browser, google-chrome); browser test not run");
            return None;
        };
        match Self::start(&exe, extra_args).await {
            Ok(b) => Some(b),
            Err(e) => panic!("could not start {}: {e:#}", exe.display()),
        }
    }

    async fn start(exe: &std::path::Path, extra_args: &[&str]) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut child = Command::new(exe)
            .args(BASE_FLAGS)
            .args(extra_args)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("spawn chromium")?;
        let stderr = child.stderr.take().context("chromium stderr")?;
        let ws_url = tokio::time::timeout(LAUNCH_TIMEOUT, devtools_url(stderr))
            .await
            .map_err(|_| anyhow!("no 'DevTools listening on' line within {LAUNCH_TIMEOUT:?}"))??;
        let conn = Conn::connect(&ws_url).await?;
        Ok(Browser {
            child,
            conn,
            _profile: profile,
        })
    }

    /// Open a new tab at `url` and attach a session to it.
    pub async fn new_page(&self, url: &str) -> Result<Page> {
        let r = self
            .conn
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = str_field(&r, "targetId")?;
        let r = self
            .conn
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        let session_id = str_field(&r, "sessionId")?;
        let errors = collect_errors(self.conn.events.subscribe(), session_id.clone());
        let page = Page {
            conn: self.conn.clone(),
            session_id,
            target_id,
            errors,
        };
        page.call("Page.enable", json!({})).await?;
        page.call("Runtime.enable", json!({})).await?;
        page.goto(url).await?;
        Ok(page)
    }

    /// Every DevTools event from now on (console messages, network, ...).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.conn.events.subscribe()
    }

    /// Send a browser-level DevTools command.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(None, method, params).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// One tab with a flattened DevTools session.
pub struct Page {
    conn: Arc<Conn>,
    session_id: String,
    target_id: String,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Page {
    /// Send a DevTools command to this page's session.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(Some(&self.session_id), method, params).await
    }

    /// Navigate to `url` and wait until its DOM is ready (not `load`: a
    /// multipart MJPEG image would hold that back forever).
    pub async fn goto(&self, url: &str) -> Result<()> {
        let mut events = self.conn.events.subscribe();
        let r = self.call("Page.navigate", json!({"url": url})).await?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            bail!("navigate to {url}: {e}");
        }
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(e)
                        if e.method == "Page.domContentEventFired"
                            && e.session_id.as_deref() == Some(&self.session_id) =>
                    {
                        return Ok(())
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => bail!("DevTools closed"),
                }
            }
        };
        tokio::time::timeout(CALL_TIMEOUT, wait)
            .await
            .map_err(|_| anyhow!("{url} did not finish loading within {CALL_TIMEOUT:?}"))?
    }

    /// Evaluate `js` in the page (awaiting a promise result) and return its value as JSON.
    /// A thrown exception becomes an error carrying the JS message.
    pub async fn eval(&self, js: &str) -> Result<Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "awaitPromise": true, "returnByValue": true}),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            let msg = ex
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| ex.get("text").and_then(Value::as_str))
                .unwrap_or("unknown exception");
            bail!("JS exception in `{js}`: {msg}");
        }
        Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Poll the boolean JS expression `cond` in the page until it is true;
    /// fail after `timeout`, naming the condition and the last value seen.
    pub async fn wait_for(&self, cond: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = Value::Null;
        while tokio::time::Instant::now() < deadline {
            match self.eval(cond).await {
                Ok(Value::Bool(true)) => return Ok(()),
                Ok(v) => last = v,
                Err(e) => last = json!(format!("{e:#}")),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("timed out after {timeout:?} waiting for `{cond}` (last value: {last})")
    }

    /// A PNG screenshot of the visible page.
    pub async fn screenshot(&self) -> Result<Vec<u8>> {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await?;
        base64_decode(&str_field(&r, "data")?)
    }

    /// Uncaught exceptions and `console.error` messages of this page so far.
    pub fn js_errors(&self) -> Vec<String> {
        self.errors.lock().clone()
    }

    /// Close the tab.
    pub async fn close(self) -> Result<()> {
        self.conn
            .call(
                None,
                "Target.closeTarget",
                json!({"targetId": self.target_id}),
            )
            .await
            .map(|_| ())
    }
}

/// Collect a session's uncaught exceptions and console errors in the background.
fn collect_errors(
    mut events: broadcast::Receiver<Event>,
    session_id: String,
) -> Arc<Mutex<Vec<String>>> {
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let out = errors.clone();
    tokio::spawn(async move {
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if e.session_id.as_deref() != Some(session_id.as_str()) {
                continue;
            }
            let text = match e.method.as_str() {
                "Runtime.exceptionThrown" => e
                    .params
                    .pointer("/exceptionDetails/exception/description")
                    .or_else(|| e.params.pointer("/exceptionDetails/text"))
                    .map(|v| v.as_str().unwrap_or_default().to_string()),
                "Runtime.consoleAPICalled" if e.params["type"] == "error" => {
                    Some(e.params["args"].to_string())
                }
                _ => None,
            };
            if let Some(t) = text {
                out.lock().push(t);
            }
        }
    });
    errors
}

/// The first of chromium, chromium-browser, google-chrome found on the PATH.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Read Chromium's stderr until the DevTools address appears; keep draining it afterwards
/// (a full pipe would block the browser).
async fn devtools_url(stderr: tokio::process::ChildStderr) -> Result<String> {
    let mut lines = BufReader::new(stderr).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
            let url = url.trim().to_string();
            tokio::spawn(async move {
                while let Ok(Some(l)) = lines.next_line().await {
                    if std::env::var_os("FRAMECAST_BROWSER_LOG").is_some() {
                        eprintln!("chromium: {l}");
                    }
                }
            });
            return Ok(url);
        }
    }
    bail!("chromium exited without printing its DevTools address")
}

fn str_field(v: &Value, name: &str) -> Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| anyhow!("DevTools reply without {name}: {v}"))
}

/// Standard base64 (with padding) to bytes.
fn base64_decode(s: &str) -> Result<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for chunk in clean.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().take_while(|&c| c != b'=').collect();
        let mut acc = 0u32;
        for &c in &data {
            acc = (acc << 6) | val(c).ok_or_else(|| anyhow!("bad base64 byte {c}"))?;
        }
        acc <<= 6 * (4 - data.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len().max(1)]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::base64_decode;

    #[test]
    fn base64_round_trips_known_vectors() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert!(base64_decode("Zm9*").is_err());
    }
}
