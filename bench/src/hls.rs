//! `framecast-bench hls`: HLS latency and load against a release server.
//!
//! Starts `target/release/framecast serve --pattern demo` (1280x720, 30 fps)
//! and measures, with the server's `X-Framecast-Last-Frame-Us` header (when
//! the last frame of a segment or part was published, same clock):
//! - segment listing latency: a blocking reload `_HLS_msn=N` returns when
//!   segment N is listed; latency = that moment - N's last frame;
//! - part latency: the preload-hinted part is requested before it exists;
//!   latency = its response - its last frame (i.e. from the part's end);
//! - CPU and RSS of the server: idle, one WebRTC viewer alone, that viewer
//!   plus one LL-HLS client (the encode is shared), one LL-HLS client alone,
//!   N LL-HLS clients.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use framecast_testkit::rtc_client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proc_stats::{percentile, rss_mib, CpuWindow, ServerProcess};

const HELP: &str = "framecast-bench hls [--clients N] [--seconds S] [--samples K] [--binary PATH]
  --clients N   concurrent LL-HLS clients for the load run (default 100)
  --seconds S   length of each CPU window (default 15)
  --samples K   segments and parts measured for latency (default 8 and 5*K)
  --binary P    server binary (default target/release/framecast)";

struct Args {
    clients: usize,
    seconds: u64,
    samples: usize,
    binary: Option<String>,
}

fn parse_args(args: Vec<String>) -> Result<Option<Args>> {
    let mut a = Args {
        clients: 100,
        seconds: 15,
        samples: 8,
        binary: None,
    };
    let mut it = args.into_iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| anyhow!("{k} needs a value"));
        match k.as_str() {
            "-h" | "--help" => return Ok(None),
            "--clients" => a.clients = v()?.parse()?,
            "--seconds" => a.seconds = v()?.parse()?,
            "--samples" => a.samples = v()?.parse()?,
            "--binary" => a.binary = Some(v()?),
            _ => bail!("unknown option {k}\n{HELP}"),
        }
    }
    Ok(Some(a))
}

/// A response: status, headers (lower-case names), body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header_u64(&self, name: &str) -> Result<u64> {
        self.header(name)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no {name} header"))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal HTTP/1.1 GET (`Connection: close`): the bench binary has no
/// HTTP client dependency.
async fn get(addr: &str, path: &str) -> Result<Resp> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: bench\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(64 * 1024);
    s.read_to_end(&mut buf).await?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no header end"))?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    })
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// (last listed msn, preload hint (msn, part)).
fn edge(playlist: &str) -> Result<(Option<u64>, (u64, u64))> {
    let tag = |name: &str| playlist.lines().find_map(|l| l.strip_prefix(name));
    let seq: u64 = tag("#EXT-X-MEDIA-SEQUENCE:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no media sequence"))?;
    let n = playlist.matches("#EXTINF:").count() as u64;
    let hint = tag("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-")
        .and_then(|v| v.trim_end_matches(".m4s\"").split_once('.'))
        .and_then(|(m, p)| Some((m.parse().ok()?, p.parse().ok()?)))
        .ok_or_else(|| anyhow!("no preload hint"))?;
    Ok(((n > 0).then(|| seq + n - 1), hint))
}

const PLAYLIST: &str = "/streams/demo/hls/index.m3u8";
const DIR: &str = "/streams/demo/hls/";

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name}: n={} p50={:.1} ms p95={:.1} ms max={:.1} ms",
        v.len(),
        percentile(&v, 50.0),
        percentile(&v, 95.0),
        v.last().copied().unwrap_or(f64::NAN)
    );
}

/// Time from a segment's last frame to the blocking reload that lists it.
async fn segment_latency(addr: &str, samples: usize) -> Result<()> {
    let mut lat = Vec::new();
    let mut server_side = Vec::new();
    let (last, _) = edge(&get(addr, PLAYLIST).await?.text())?;
    let first = last.map_or(0, |l| l + 1);
    for next in first..first + samples as u64 {
        let r = get(addr, &format!("{PLAYLIST}?_HLS_msn={next}")).await?;
        let at = now_us();
        if r.status != 200 {
            bail!("blocking reload: HTTP {}", r.status);
        }
        let seg = get(addr, &format!("{DIR}seg-{next}.m4s")).await?;
        let last_frame = seg.header_u64("x-framecast-last-frame-us")?;
        let ready = seg.header_u64("x-framecast-ready-us")?;
        lat.push(ms(at as i64 - last_frame as i64));
        server_side.push(ms(ready as i64 - last_frame as i64));
    }
    summary("segment: last frame -> listed (client sees it)", lat);
    summary("segment: last frame -> cut (server stamp)", server_side);
    Ok(())
}

/// Time from a part's end (its last frame) to its bytes at a client that
/// asked for it before it existed (the preload hint).
async fn part_latency(addr: &str, samples: usize) -> Result<()> {
    let mut lat = Vec::new();
    let mut misses = 0;
    let mut durations = Vec::new();
    while lat.len() < samples {
        let pl = get(addr, PLAYLIST).await?.text();
        let (_, (m, p)) = edge(&pl)?;
        let r = get(addr, &format!("{DIR}part-{m}.{p}.m4s")).await?;
        let at = now_us();
        if r.status == 404 {
            misses += 1; // the segment ended at a keyframe instead
            continue;
        }
        let last_frame = r.header_u64("x-framecast-last-frame-us")?;
        lat.push(ms(at as i64 - last_frame as i64));
        if let Some(d) = pl
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-PART:DURATION="))
            .filter_map(|l| l.split(',').next()?.parse::<f64>().ok())
            .next_back()
        {
            durations.push(d * 1000.0);
        }
    }
    summary("part: last frame -> fetched by a waiting client", lat);
    summary("part duration (ms, as listed)", durations);
    println!("(hinted parts that never came because a segment ended first: {misses})");
    Ok(())
}

/// One LL-HLS client: blocking reload for the hinted part, then the part.
async fn ll_client(addr: String, until: Instant) -> Result<u64> {
    let mut fetched = 0;
    let mut pl = get(&addr, PLAYLIST).await?.text();
    while Instant::now() < until {
        let (_, (m, p)) = edge(&pl)?;
        let part = get(&addr, &format!("{DIR}part-{m}.{p}.m4s")).await?;
        if part.status == 200 {
            fetched += part.body.len() as u64;
        }
        let r = get(&addr, &format!("{PLAYLIST}?_HLS_msn={m}&_HLS_part={p}")).await?;
        pl = if r.status == 200 {
            r.text()
        } else {
            get(&addr, PLAYLIST).await?.text()
        };
    }
    Ok(fetched)
}

async fn load(server: &ServerProcess, addr: &str, clients: usize, secs: u64) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(secs);
    let cpu = CpuWindow::start(server.pid())?;
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(ll_client(addr.to_string(), until)))
        .collect();
    let mut bytes = 0;
    let mut failed = 0;
    for t in tasks {
        match t.await? {
            Ok(b) => bytes += b,
            Err(_) => failed += 1,
        }
    }
    println!(
        "{clients} LL-HLS clients for {secs} s: server CPU {:.1}% of a core, RSS {:.1} MiB, {:.1} Mbit/s out, {failed} clients failed",
        cpu.percent()?,
        rss_mib(server.pid())?,
        bytes as f64 * 8.0 / secs as f64 / 1e6
    );
    Ok(())
}

/// CPU of one WebRTC viewer alone, then with one LL-HLS client added.
async fn shared_encode(server: &ServerProcess, addr: &str, secs: u64) -> Result<()> {
    let sock: std::net::SocketAddr = addr.parse()?;
    let mut c = rtc_client::connect(sock, "demo", rtc_client::Offer::default())
        .await
        .map_err(|e| anyhow!("WHEP failed: {e}"))?;
    let location = c.location.clone();
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let n = frames.clone();
    let drain = tokio::spawn(async move {
        while let Some(ev) = c.events.recv().await {
            if let rtc_client::ClientEvent::Video { .. } = ev {
                n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = CpuWindow::start(server.pid())?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let webrtc = cpu.percent()?;
    let cpu = CpuWindow::start(server.pid())?;
    let f0 = frames.load(std::sync::atomic::Ordering::Relaxed);
    let until = Instant::now() + Duration::from_secs(secs);
    let hls = ll_client(addr.to_string(), until).await?;
    let both = cpu.percent()?;
    let fps = (frames.load(std::sync::atomic::Ordering::Relaxed) - f0) as f64 / secs as f64;
    println!(
        "1 WebRTC viewer alone: CPU {webrtc:.1}%; WebRTC + 1 LL-HLS client: CPU {both:.1}% \
         (HLS adds {:.1} points; WebRTC {fps:.1} fps meanwhile, HLS got {:.1} Mbit/s)",
        both - webrtc,
        hls as f64 * 8.0 / secs as f64 / 1e6
    );
    drain.abort();
    let _ = rtc_client::http(sock, "DELETE", &location, None, "").await;
    Ok(())
}

/// Run the HLS benchmark.
pub async fn run(args: Vec<String>) -> Result<()> {
    let Some(a) = parse_args(args)? else {
        println!("{HELP}");
        return Ok(());
    };
    let server = ServerProcess::start(a.binary.as_deref(), &["--pattern", "demo"]).await?;
    let addr = server.url.trim_start_matches("http://").to_string();
    let cpu = CpuWindow::start(server.pid())?;
    tokio::time::sleep(Duration::from_secs(a.seconds.min(5))).await;
    println!(
        "idle (pattern 1280x720@30, no viewers): CPU {:.1}%, RSS {:.1} MiB",
        cpu.percent()?,
        rss_mib(server.pid())?
    );
    shared_encode(&server, &addr, a.seconds).await?;
    // The first request starts the session and waits for the first segment.
    let first = get(&addr, PLAYLIST).await.context("first playlist")?;
    if first.status != 200 {
        bail!("first playlist: HTTP {}", first.status);
    }
    segment_latency(&addr, a.samples).await?;
    part_latency(&addr, a.samples * 5).await?;
    load(&server, &addr, 1, a.seconds).await?;
    load(&server, &addr, a.clients, a.seconds).await?;
    Ok(())
}
