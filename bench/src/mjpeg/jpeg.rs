//! `framecast-bench jpeg`: JPEG encode time of the 720p demo pattern, and
//! the pre-encoded 720p JPEGs the push and gallery benchmarks feed.

use std::time::Instant;

use bytes::Bytes;
use clap::Parser;
use framecast::codec::jpeg::{encode, DEFAULT_QUALITY};
use framecast::source::pattern::PatternRenderer;
use framecast::{Frame, PixelFormat};

use crate::proc_stats::percentile;

/// Encode the demo pattern frame N times and report ms per frame.
#[derive(Parser, Debug)]
#[command(name = "framecast-bench jpeg")]
struct Opts {
    /// Frames to encode.
    #[arg(long, default_value_t = 300)]
    frames: u64,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = DEFAULT_QUALITY)]
    quality: u8,
    /// Frame width.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    /// Frame height.
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// Photo-like grain added to the pattern (0 = the plain demo frame).
    #[arg(long, default_value_t = 0)]
    grain: u8,
}

/// Run the JPEG encode benchmark.
pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let o = Opts::parse_from(std::iter::once("jpeg".to_string()).chain(args));
    let r = PatternRenderer::new(o.width, o.height);
    let mut ms = Vec::with_capacity(o.frames as usize);
    let mut bytes = 0usize;
    for n in 0..o.frames.max(1) {
        let frame = r.render(n, &format!("12:00:{:02}.{:03}", n / 30 % 60, n % 1000));
        let frame = add_grain(frame, o.grain, n)?;
        let t = Instant::now();
        let jpeg = encode(&frame, o.quality)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes += jpeg.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "| encode {}x{} q{} | frames | min ms | median ms | p99 ms | mean KiB |",
        o.width, o.height, o.quality
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} (avx2: {}) | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
        framecast::codec::jpeg_encode::encoder_name(),
        avx2(),
        ms.len(),
        ms[0],
        percentile(&ms, 50.0),
        percentile(&ms, 99.0),
        bytes as f64 / ms.len() as f64 / 1024.0
    );
    Ok(())
}

fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `count` distinct 1280x720 demo frames with `grain`, encoded at the
/// default quality.
pub fn demo_jpegs(count: u64, grain: u8) -> anyhow::Result<Vec<Bytes>> {
    let r = PatternRenderer::new(1280, 720);
    (0..count.max(1))
        .map(|n| {
            let f = r.render(n, &format!("12:00:00.{:03}", n * 33 % 1000));
            Ok::<_, anyhow::Error>(encode(&add_grain(f, grain, n)?, DEFAULT_QUALITY)?)
        })
        .collect()
}

/// Add deterministic noise of amplitude ±`grain` to an RGB frame, so that
/// its JPEG is about as large as a photo's (the plain pattern compresses
/// far better than real pictures).
fn add_grain(frame: Frame, grain: u8, seed: u64) -> anyhow::Result<Frame> {
    if grain == 0 {
        return Ok(frame);
    }
    let (w, h) = (frame.width(), frame.height());
    let mut px = framecast::codec::image::rgb24(&frame)?.to_vec();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let span = 2 * grain as u64 + 1;
    for p in px.iter_mut() {
        // xorshift64: cheap, reproducible noise.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let d = (x % span) as i16 - grain as i16;
        *p = (*p as i16 + d).clamp(0, 255) as u8;
    }
    Ok(Frame::raw(w, h, PixelFormat::Rgb24, px)?)
}

/// Write `jpegs` as `frame-NNN.jpg` files into `dir`.
pub fn write_gallery(dir: &std::path::Path, jpegs: &[Bytes]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, j) in jpegs.iter().enumerate() {
        std::fs::write(dir.join(format!("frame-{i:03}.jpg")), j)?;
    }
    Ok(())
}
