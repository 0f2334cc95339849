//! The `framecast` command: parses flags and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use framecast::config::{Config, StreamConfig};
use framecast::source::SourceConfig;

#[derive(Parser)]
#[command(
    name = "framecast",
    version,
    about = "Frames from anywhere, shown live everywhere."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve streams over HTTP (the default).
    Serve(ServeArgs),
}

#[derive(clap::Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on: HOST:PORT, :PORT (every interface) or PORT
    /// (loopback) [default: 127.0.0.1:8080].
    #[arg(long, env = "FRAMECAST_LISTEN", value_parser = listen_addr)]
    listen: Option<SocketAddr>,
    /// A TOML config file.
    #[arg(long, env = "FRAMECAST_CONFIG")]
    config: Option<PathBuf>,
    /// Add a photo-folder stream: ID=DIR (repeatable).
    #[arg(long, value_name = "ID=DIR")]
    gallery: Vec<String>,
    /// Add a test-pattern stream with this id (repeatable).
    #[arg(long, value_name = "ID")]
    pattern: Vec<String>,
    /// Add an empty stream that waits for pushed frames (repeatable).
    #[arg(long, value_name = "ID")]
    push: Vec<String>,
    /// The address announced to WebRTC peers (NAT / LAN); default: the listen address.
    #[arg(long, env = "FRAMECAST_WEBRTC_PUBLIC_IP", value_name = "IP")]
    webrtc_public_ip: Option<std::net::IpAddr>,
    /// UDP port for WebRTC [default: the HTTP port + 1].
    #[arg(long, env = "FRAMECAST_WEBRTC_PORT", value_name = "PORT")]
    webrtc_port: Option<u16>,
    /// Async worker threads [default: `workers` in the config, else half the cores].
    #[arg(long, env = "FRAMECAST_WORKERS", value_name = "N")]
    workers: Option<usize>,
}

fn build_config(args: &ServeArgs) -> framecast::Result<Config> {
    let mut cfg = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(ip) = args.webrtc_public_ip {
        cfg.webrtc.public_ip = Some(ip);
    }
    if let Some(port) = args.webrtc_port {
        cfg.webrtc.udp_port = Some(port);
    }
    if let Some(n) = args.workers {
        cfg.workers = n;
    }
    let stream = |id: &str, source| StreamConfig {
        id: id.to_string(),
        queue: None,
        source,
    };
    let pattern = || SourceConfig::Pattern {
        pattern: Default::default(),
    };
    for id in &args.pattern {
        cfg.streams.push(stream(id, pattern()));
    }
    for id in &args.push {
        cfg.streams.push(stream(id, SourceConfig::Push {}));
    }
    for spec in &args.gallery {
        let (id, dir) = spec.split_once('=').ok_or_else(|| {
            framecast::Error::bad_request(format!("--gallery wants ID=DIR, got {spec:?}"))
        })?;
        let gallery = framecast::source::gallery::GalleryConfig::new(dir);
        cfg.streams
            .push(stream(id, SourceConfig::Gallery { gallery }));
    }
    if cfg.streams.is_empty() {
        cfg.streams.push(stream("demo", pattern()));
    }
    cfg.validate()?;
    Ok(cfg)
}

/// `--listen` as people write it (see `parse_listen`).
fn listen_addr(text: &str) -> Result<SocketAddr, String> {
    framecast::config::parse_listen(text).map_err(|e| e.message().to_string())
}

fn main() -> std::process::ExitCode {
    // Logs go to stderr, in colour only on a terminal: piped output stays
    // plain text, and stdout keeps just the URLs printed at start-up.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "framecast=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        None => cli.serve,
    };
    match build_config(&args).and_then(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("framecast: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Start the runtime with the configured worker count and serve.
fn run(cfg: Config) -> framecast::Result<()> {
    #[cfg(unix)]
    match framecast::server::raise_open_file_limit() {
        Ok(n) => tracing::debug!("open file limit: {n}"),
        Err(e) => tracing::warn!("could not raise the open file limit: {e}"),
    }
    let workers = cfg.worker_threads();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    tracing::debug!("{workers} async worker thread(s)");
    runtime.block_on(serve(cfg))
}

async fn serve(cfg: Config) -> framecast::Result<()> {
    if env!("FRAMECAST_BUILT_WITH_NASM") != "1" {
        tracing::warn!(
            "built without nasm: H.264 and JPEG encoding run about 3x slower; install nasm and rebuild"
        );
    }
    tracing::info!(
        "JPEG encoder: {}",
        framecast::codec::jpeg_encode::encoder_name()
    );
    let ids: Vec<String> = cfg.streams.iter().map(|s| s.id.clone()).collect();
    let server = framecast::Server::new(cfg.clone())?;
    let running = server.listen(cfg.listen).await?;
    let addr = running.local_addr();
    println!("framecast listening on http://{addr}/");
    for id in ids {
        println!(
            "  stream {id}: http://{addr}/streams/{id}  (MJPEG: http://{addr}/streams/{id}/mjpeg)"
        );
    }
    running.run_until(shutdown_signal()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
