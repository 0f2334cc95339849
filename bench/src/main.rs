//! `framecast-bench`: load and latency benchmarks against a real framecast
//! server process on loopback.
//!
//! ```text
//! framecast-bench mjpeg  [options]   MJPEG viewers (see `mjpeg --help`)
//! framecast-bench ws     [options]   WebSocket viewers (same options)
//! framecast-bench jpeg   [options]   JPEG encode time of a 720p demo frame
//! framecast-bench webrtc [options]   WebRTC (WHEP) viewers
//! framecast-bench hls    [options]   HLS clients and segment latency
//! ```

mod hls;
mod mjpeg;
mod proc_stats;
mod webrtc;

use std::process::ExitCode;

const USAGE: &str =
    "usage: framecast-bench <mjpeg|ws|jpeg|webrtc|hls> [options]  (framecast-bench <cmd> --help)";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let cmd = args.remove(0);
    let result = match cmd.as_str() {
        "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        "mjpeg" => mjpeg::run(args).await,
        "ws" => mjpeg::run_ws(args).await,
        "jpeg" => mjpeg::jpeg::run(args),
        "hls" => hls::run(args).await,
        "webrtc" => webrtc::run(args).await,
        _ => Err(anyhow::anyhow!("unknown benchmark {cmd:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("framecast-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
