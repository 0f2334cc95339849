//! Small HTTP helpers for the MJPEG/WS bench: a JSON GET and a JPEG pusher
//! (`POST /streams/{id}/frames` over one keep-alive connection).

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// `GET path` with `Connection: close`; the body parsed as JSON.
pub async fn get_json(addr: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut all)).await??;
    let p = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no response head from {path}"))?;
    if !all.starts_with(b"HTTP/1.1 200") {
        anyhow::bail!("GET {path}: {}", String::from_utf8_lossy(&all[..p]));
    }
    Ok(serde_json::from_slice(&all[p + 4..])?)
}

/// Frames published and JPEG encodes done so far on stream `id`.
pub async fn counters(addr: &str, id: &str) -> anyhow::Result<(u64, u64)> {
    let v = get_json(addr, &format!("/api/streams/{id}")).await?;
    let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
    Ok((n("frames_in"), n("jpeg_encodes")))
}

/// Wait until stream `id` has published a frame.
pub async fn wait_first_frame(addr: &str, id: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(v) = get_json(addr, &format!("/api/streams/{id}")).await {
            if v.get("latest_seq").is_some_and(|s| !s.is_null()) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("stream {id} published no frame within {limit:?}")
}

/// Push `jpegs` in a loop to `/streams/{id}/frames` at `fps` until `stop`.
/// Returns the number of frames accepted.
pub async fn push_loop(
    addr: String,
    id: String,
    jpegs: Vec<Bytes>,
    fps: f64,
    stop: CancellationToken,
) -> anyhow::Result<u64> {
    let mut s = TcpStream::connect(&addr).await?;
    s.set_nodelay(true)?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut resp = vec![0u8; 4096];
    let mut sent = 0u64;
    for jpeg in jpegs.iter().cycle() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let head = format!(
            "POST /streams/{id}/frames HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(jpeg).await?;
        read_response(&mut s, &mut resp).await?;
        sent += 1;
    }
    Ok(sent)
}

/// Read one small response (head + Content-Length body); fail unless 2xx.
async fn read_response(s: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<()> {
    let mut have = 0;
    loop {
        if have == buf.len() {
            anyhow::bail!("push response too large");
        }
        let n = s.read(&mut buf[have..]).await?;
        if n == 0 {
            anyhow::bail!("server closed the push connection");
        }
        have += n;
        let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..p]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if have >= p + 4 + len {
            if !head.starts_with("HTTP/1.1 2") {
                anyhow::bail!(
                    "push refused: {} {}",
                    head.lines().next().unwrap_or(""),
                    String::from_utf8_lossy(&buf[p + 4..have])
                );
            }
            return Ok(());
        }
    }
}
