//! `framecast-bench mjpeg|ws`: N MJPEG or WebSocket viewers against a fresh
//! release server per run; reports delivered fps per viewer (min, median),
//! server CPU % of one core, max RSS, and latency (published → received)
//! p50/p99. Also `framecast-bench jpeg` (encode time), see `mjpeg/jpeg.rs`.

mod http;
pub mod jpeg;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::proc_stats::{percentile, rss_mib, CpuWindow, ServerProcess};
use framecast_testkit::lean_viewer::{self as viewer, ViewerLog};

/// Which protocol the viewers speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `GET /streams/{id}/mjpeg`.
    Mjpeg,
    /// `GET /streams/{id}/ws?frameinfo=1`.
    Ws,
}

/// What feeds the stream under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// The 720p30 demo pattern (encoded once per frame by the server).
    Pattern,
    /// A folder of pre-encoded 1280x720 JPEGs at 30 fps (passed through).
    Gallery,
    /// Pre-encoded 1280x720 JPEGs POSTed at 30 fps (passed through).
    Push,
}

/// Options of `framecast-bench mjpeg` / `ws`.
#[derive(Parser, Debug, Clone)]
struct Opts {
    /// Viewer counts, one fresh server per count.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50,200")]
    viewers: Vec<usize>,
    /// Measurement window per run, seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up before the window, seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// What feeds the stream (repeatable: `--source pattern,push`).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pattern")]
    source: Vec<Source>,
    /// Server binary.
    #[arg(long)]
    binary: Option<String>,
    /// Extra MJPEG viewers that connect but never read (not measured).
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// Frame rate of the push and gallery feeds.
    #[arg(long, default_value_t = 30.0)]
    fps: f64,
    /// Grain added to the push/gallery JPEGs so they are photo-sized
    /// (0 = plain demo frames, about 30 KiB).
    #[arg(long, default_value_t = 12)]
    grain: u8,
}

/// One run's figures.
#[derive(Debug, Clone)]
struct RunResult {
    proto: Proto,
    source: Source,
    viewers: usize,
    failed: usize,
    fps_min: f64,
    fps_median: f64,
    cpu: f64,
    rss_max: f64,
    p50_ms: f64,
    p99_ms: f64,
    frames_in: u64,
    encodes: u64,
    bench_cpu: f64,
}

/// `framecast-bench mjpeg [options]`.
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    run_proto(Proto::Mjpeg, args).await
}

/// `framecast-bench ws [options]`.
pub async fn run_ws(args: Vec<String>) -> anyhow::Result<()> {
    run_proto(Proto::Ws, args).await
}

async fn run_proto(proto: Proto, args: Vec<String>) -> anyhow::Result<()> {
    let name = if proto == Proto::Mjpeg { "mjpeg" } else { "ws" };
    let o = Opts::parse_from(std::iter::once(format!("framecast-bench {name}")).chain(args));
    println!("load average before: {}", loadavg());
    println!("{}", table_head());
    let mut results = Vec::new();
    for &source in &o.source {
        for &n in &o.viewers {
            let r = run_once(&o, proto, source, n).await?;
            println!("{}", table_row(&r));
            results.push(r);
        }
    }
    println!("\nload average after: {}\n", loadavg());
    println!("{}", table_head());
    for r in &results {
        println!("{}", table_row(r));
    }
    Ok(())
}

/// `/proc/loadavg`, first three fields.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn table_head() -> String {
    "| proto | source | viewers | fps min | fps median | server CPU % | RSS max MiB | p50 ms | p99 ms | encodes / frames in | bench CPU % |\n\
     |---|---|---|---|---|---|---|---|---|---|---|"
        .to_string()
}

fn table_row(r: &RunResult) -> String {
    let failed = if r.failed > 0 {
        format!(" ({} failed)", r.failed)
    } else {
        String::new()
    };
    let proto = if r.proto == Proto::Mjpeg {
        "MJPEG"
    } else {
        "WS"
    };
    let source = format!("{:?}", r.source).to_lowercase();
    format!(
        "| {proto} | {source} | {}{failed} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} / {} | {:.0} |",
        r.viewers,
        r.fps_min,
        r.fps_median,
        r.cpu,
        r.rss_max,
        r.p50_ms,
        r.p99_ms,
        r.encodes,
        r.frames_in,
        r.bench_cpu
    )
}

/// A running feed: the server plus, for push, the pusher task.
struct Feed {
    server: ServerProcess,
    id: &'static str,
    stop: CancellationToken,
    pusher: Option<tokio::task::JoinHandle<anyhow::Result<u64>>>,
    _dir: Option<TempDir>,
}

async fn start_feed(o: &Opts, source: Source) -> anyhow::Result<Feed> {
    let bin = o.binary.as_deref();
    let stop = CancellationToken::new();
    let feed = match source {
        Source::Pattern => Feed {
            server: ServerProcess::start(bin, &["--pattern", "demo"]).await?,
            id: "demo",
            stop,
            pusher: None,
            _dir: None,
        },
        Source::Push => {
            let server = ServerProcess::start(bin, &["--push", "p"]).await?;
            let addr = addr_of(&server);
            let jpegs = jpeg_set(o.grain)?;
            let pusher = tokio::spawn(http::push_loop(
                addr,
                "p".into(),
                jpegs,
                o.fps,
                stop.clone(),
            ));
            Feed {
                server,
                id: "p",
                stop,
                pusher: Some(pusher),
                _dir: None,
            }
        }
        Source::Gallery => {
            let dir = TempDir::new()?;
            jpeg::write_gallery(&dir.0.join("img"), &jpeg_set(o.grain)?)?;
            let cfg = dir.0.join("framecast.toml");
            std::fs::write(&cfg, gallery_config(&dir.0.join("img"), o.fps))?;
            let cfg = cfg.to_string_lossy().to_string();
            Feed {
                server: ServerProcess::start(bin, &["--config", &cfg]).await?,
                id: "g",
                stop,
                pusher: None,
                _dir: Some(dir),
            }
        }
    };
    http::wait_first_frame(&addr_of(&feed.server), feed.id, Duration::from_secs(10)).await?;
    Ok(feed)
}

/// 30 distinct pre-encoded 1280x720 JPEGs.
fn jpeg_set(grain: u8) -> anyhow::Result<Vec<bytes::Bytes>> {
    let set = jpeg::demo_jpegs(30, grain)?;
    let kib = set.iter().map(|j| j.len()).sum::<usize>() as f64 / set.len() as f64 / 1024.0;
    eprintln!("feed: 30 JPEGs of 1280x720, mean {kib:.0} KiB (grain {grain})");
    Ok(set)
}

/// A config with one gallery stream `g` playing `dir` at `fps`.
fn gallery_config(dir: &std::path::Path, fps: f64) -> String {
    let interval_ms = (1000.0 / fps).round() as u64;
    format!(
        "[[stream]]\nid = \"g\"\nsource = \"gallery\"\n[stream.gallery]\ndir = {:?}\ninterval_ms = {interval_ms}\n",
        dir.to_string_lossy()
    )
}

fn addr_of(s: &ServerProcess) -> String {
    s.url.trim_start_matches("http://").to_string()
}

async fn run_once(o: &Opts, proto: Proto, source: Source, n: usize) -> anyhow::Result<RunResult> {
    let feed = start_feed(o, source).await?;
    let addr = addr_of(&feed.server);
    let pid = feed.server.pid();
    let (path, extra) = match proto {
        Proto::Mjpeg => (format!("/streams/{}/mjpeg", feed.id), ""),
        Proto::Ws => (
            format!("/streams/{}/ws?frameinfo=1", feed.id),
            viewer::WS_UPGRADE,
        ),
    };
    let mut stalled = Vec::new();
    for _ in 0..o.stalled {
        let p = format!("/streams/{}/mjpeg", feed.id);
        stalled.push(viewer::connect(&addr, &p, "").await?);
    }
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(viewer::connect(&addr, &path, extra).await?);
    }
    let start = Instant::now() + Duration::from_secs_f64(o.warmup);
    let end = start + Duration::from_secs_f64(o.seconds);
    let start_us = viewer::unix_us() + (o.warmup * 1e6) as u64;
    let end_us = start_us + (o.seconds * 1e6) as u64;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|c| match proto {
            Proto::Mjpeg => tokio::spawn(viewer::mjpeg_viewer(c, end)),
            Proto::Ws => tokio::spawn(viewer::ws_viewer(c, end)),
        })
        .collect();
    tokio::time::sleep_until(start).await;
    let (frames0, enc0) = http::counters(&addr, feed.id).await?;
    let cpu = CpuWindow::start(pid)?;
    let me = CpuWindow::start(std::process::id())?;
    let mut rss_max: f64 = 0.0;
    while Instant::now() < end {
        rss_max = rss_max.max(rss_mib(pid)?);
        tokio::time::sleep(
            Duration::from_millis(250).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    let (cpu, bench_cpu) = (cpu.percent()?, me.percent()?);
    rss_max = rss_max.max(rss_mib(pid)?);
    let (frames1, enc1) = http::counters(&addr, feed.id).await?;
    let mut logs = Vec::with_capacity(n);
    for t in tasks {
        logs.push(t.await?);
    }
    feed.stop.cancel();
    if let Some(p) = feed.pusher {
        p.await??;
    }
    drop(stalled);
    let mut r = summarize(&logs, start_us, end_us, o.seconds);
    r.proto = proto;
    r.source = source;
    r.viewers = n;
    r.cpu = cpu;
    r.rss_max = rss_max;
    r.frames_in = frames1.saturating_sub(frames0);
    r.encodes = enc1.saturating_sub(enc0);
    r.bench_cpu = bench_cpu;
    Ok(r)
}

fn summarize(logs: &[ViewerLog], start_us: u64, end_us: u64, seconds: f64) -> RunResult {
    let mut fps = Vec::with_capacity(logs.len());
    let mut lat = Vec::new();
    let mut failed = 0;
    for l in logs {
        if let Some(e) = &l.error {
            failed += 1;
            eprintln!("viewer failed: {e}");
        }
        let inside = l
            .frames
            .iter()
            .filter(|(t, _)| (start_us..end_us).contains(t));
        let mut count = 0;
        for (_, d) in inside {
            count += 1;
            lat.push(*d as f64 / 1000.0);
        }
        fps.push(count as f64 / seconds);
    }
    fps.sort_by(f64::total_cmp);
    lat.sort_by(f64::total_cmp);
    RunResult {
        proto: Proto::Mjpeg,
        source: Source::Pattern,
        viewers: logs.len(),
        failed,
        fps_min: fps.first().copied().unwrap_or(0.0),
        fps_median: percentile(&fps, 50.0),
        cpu: 0.0,
        rss_max: 0.0,
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        frames_in: 0,
        encodes: 0,
        bench_cpu: 0.0,
    }
}

/// A temporary directory removed on drop (no tempfile dependency here).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let p = std::env::temp_dir().join(format!(
            "framecast-bench-{}-{}",
            std::process::id(),
            viewer::unix_us()
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
