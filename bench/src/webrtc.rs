//! `framecast-bench webrtc`: N headless WebRTC viewers (str0m peers doing
//! WHEP over loopback UDP) of the release server's 720p30 demo pattern.
//!
//! Reports, per viewer count: server CPU (% of one core, from /proc), CPU
//! added per viewer, frames per second per viewer (min / median), time to
//! first frame (median / max) and server RSS. `--encode` also times the
//! H.264 encoder in-process on 720p pattern frames.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use framecast_testkit::rtc_client::{connect, http, ClientEvent, Offer, RtcClient};

use crate::proc_stats::{percentile, rss_mib, CpuWindow, ServerProcess};

const HELP: &str = "framecast-bench webrtc [--viewers 1,10,50] [--seconds 10] [--binary target/release/framecast] [--encode]";

struct Args {
    viewers: Vec<usize>,
    seconds: f64,
    binary: Option<String>,
    encode: bool,
}

fn parse(args: Vec<String>) -> Result<Option<Args>> {
    let mut a = Args {
        viewers: vec![1, 10, 50],
        seconds: 10.0,
        binary: None,
        encode: false,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--viewers" => {
                a.viewers = value()?
                    .split(',')
                    .map(|v| v.trim().parse())
                    .collect::<Result<_, _>>()
                    .context("--viewers wants numbers like 1,10,50")?
            }
            "--seconds" => a.seconds = value()?.parse()?,
            "--binary" => a.binary = Some(value()?),
            "--encode" => a.encode = true,
            other => bail!("unknown option {other:?}\n{HELP}"),
        }
    }
    Ok(Some(a))
}

/// Run the benchmark.
pub async fn run(args: Vec<String>) -> Result<()> {
    let Some(args) = parse(args)? else {
        println!("{HELP}");
        return Ok(());
    };
    if args.encode {
        encode_cost();
    }
    let server = ServerProcess::start(args.binary.as_deref(), &["--pattern", "demo"]).await?;
    let addr: std::net::SocketAddr = server.url.trim_start_matches("http://").parse()?;
    let pid = server.pid();
    // Warm up, then the idle cost: the pattern source alone (no encoder).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = Duration::from_secs_f64(args.seconds);
    let idle = CpuWindow::start(pid)?;
    tokio::time::sleep(window).await;
    let idle_cpu = idle.percent()?;
    println!("server idle (pattern only, no viewers): CPU {idle_cpu:.1}%");
    println!("viewers | server CPU % | added vs idle | per extra viewer | fps min/median | first frame median/p90/max ms | RSS MiB | source fps | encodes/s");
    let mut one_viewer_cpu = None;
    for &n in &args.viewers {
        let r = round(addr, pid, n, window).await?;
        let added = r.cpu - idle_cpu;
        let per = match one_viewer_cpu {
            Some(c1) if n > 1 => format!("{:.2}%", (r.cpu - c1) / (n - 1) as f64),
            _ => "-".into(),
        };
        if n == 1 {
            one_viewer_cpu = Some(r.cpu);
        }
        println!(
            "{n:7} | {:12.1} | {added:13.1} | {per:>16} | {:5.1} / {:5.1} | {:4.0} / {:4.0} / {:4.0} | {:7.0} | {:10.1} | {:.1}",
            r.cpu, r.fps_min, r.fps_median, r.ttff_median_ms, r.ttff_p90_ms, r.ttff_max_ms, r.rss, r.source_fps, r.encode_fps
        );
    }
    Ok(())
}

struct Round {
    source_fps: f64,
    encode_fps: f64,
    cpu: f64,
    fps_min: f64,
    fps_median: f64,
    ttff_median_ms: f64,
    ttff_p90_ms: f64,
    ttff_max_ms: f64,
    rss: f64,
}

/// Connect `n` viewers, wait for all first frames, then count for `window`.
async fn round(addr: std::net::SocketAddr, pid: u32, n: usize, window: Duration) -> Result<Round> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let c = connect(addr, "demo", Offer::default())
            .await
            .map_err(|e| anyhow::anyhow!("WHEP failed: {e}"))?;
        clients.push(c);
    }
    let mut ttff = Vec::with_capacity(n);
    for c in &mut clients {
        ttff.push(first_frame(c).await? * 1000.0);
    }
    let counters: Vec<_> = clients.into_iter().map(count_frames).collect();
    let cpu = CpuWindow::start(pid)?;
    let t0 = Instant::now();
    let before = counts(addr).await?;
    tokio::time::sleep(window).await;
    let cpu = cpu.percent()?;
    let after = counts(addr).await?;
    let secs = t0.elapsed().as_secs_f64();
    let rss = rss_mib(pid)?;
    let mut fps = Vec::with_capacity(n);
    let mut locations = Vec::with_capacity(n);
    for (task, count, location) in counters {
        let frames = count.load(std::sync::atomic::Ordering::Relaxed);
        fps.push(frames as f64 / t0.elapsed().as_secs_f64());
        task.abort();
        locations.push(location);
    }
    for loc in locations {
        let _ = http(addr, "DELETE", &loc, None, "").await;
    }
    fps.sort_by(f64::total_cmp);
    ttff.sort_by(f64::total_cmp);
    Ok(Round {
        source_fps: (after.0 - before.0) as f64 / secs,
        encode_fps: (after.1 - before.1) as f64 / secs,
        cpu,
        fps_min: fps[0],
        fps_median: percentile(&fps, 50.0),
        ttff_median_ms: percentile(&ttff, 50.0),
        ttff_p90_ms: percentile(&ttff, 90.0),
        ttff_max_ms: *ttff.last().unwrap_or(&f64::NAN),
        rss,
    })
}

/// The demo stream's (frames_in, h264_encodes).
async fn counts(addr: std::net::SocketAddr) -> Result<(u64, u64)> {
    let r = http(addr, "GET", "/api/streams/demo", None, "").await?;
    let v: serde_json::Value = serde_json::from_str(&r.body)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok((n("frames_in"), n("h264_encodes")))
}

/// Seconds from the WHEP POST to the first complete access unit.
async fn first_frame(c: &mut RtcClient) -> Result<f64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, c.events.recv()).await {
            Ok(Some(ClientEvent::Video { at, .. })) => {
                return Ok(at.duration_since(c.started).as_secs_f64())
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("a viewer's connection ended"),
            Err(_) => bail!("no first frame within 15 s"),
        }
    }
}

type Counter = (
    tokio::task::JoinHandle<RtcClient>,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    String,
);

/// Count a viewer's frames in the background.
fn count_frames(mut c: RtcClient) -> Counter {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let n = count.clone();
    let location = c.location.clone();
    let task = tokio::spawn(async move {
        while let Some(ev) = c.events.recv().await {
            if let ClientEvent::Video { .. } = ev {
                n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        c
    });
    (task, count, location)
}

/// Time the encoder on 720p pattern frames in this process.
fn encode_cost() {
    use framecast::codec::h264::{EncoderSettings, FrameRef, H264Encoder};
    let renderer = framecast::source::pattern::PatternRenderer::new(1280, 720);
    let frames: Vec<_> = (0..60).map(|n| renderer.render(n, "12:00:00")).collect();
    let mut enc = H264Encoder::new(EncoderSettings::default());
    let n = 300u64;
    let t0 = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        let f = &frames[(i % 60) as usize];
        let r = enc.encode(FrameRef {
            frame: f,
            pts: Duration::from_micros(i * 33_333),
            seq: i + 1,
            published_unix_us: 0,
        });
        if let Ok(Some(au)) = r {
            bytes += au.data.len();
        }
    }
    let per = t0.elapsed().as_secs_f64() * 1000.0 / n as f64;
    println!(
        "encode 1280x720 (RGB->I420 + openh264, built with nasm: {}): {per:.2} ms/frame = {:.0}% of a core at 30 fps, {:.2} Mbit/s",
        env!("FRAMECAST_BUILT_WITH_NASM") == "1",
        per * 30.0 / 10.0,
        bytes as f64 * 8.0 / (n as f64 / 30.0) / 1e6
    );
}
