//! Publish your own frames from Rust: moving boxes plus their metadata.
//!
//! ```text
//! cargo run --release --example push
//! # then open http://127.0.0.1:8080/streams/boxes
//! ```
//!
//! This is the shape of a computer-vision program: make a frame, find things
//! in it, publish the frame together with the boxes that belong to it.

use std::time::Duration;

use framecast::config::Config;
use framecast::{Frame, PixelFormat, Server};
use serde_json::json;

const W: usize = 1280;
const H: usize = 720;

#[tokio::main]
async fn main() -> framecast::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("framecast=info")
        .init();
    let listen = std::env::var("FRAMECAST_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let config = Config {
        listen: listen
            .parse()
            .map_err(|e| framecast::Error::bad_request(format!("{e}")))?,
        ..Config::default()
    };
    let server = Server::new(config.clone())?;
    let publisher = server.publisher("boxes")?;
    let running = server.listen(config.listen).await?;
    println!("watch: http://{}/streams/boxes", running.local_addr());

    let mut tick = tokio::time::interval(Duration::from_millis(33));
    for n in 0u64.. {
        tick.tick().await;
        let boxes = detect(n);
        let frame = draw(&boxes)?;
        let meta = json!({ "boxes": boxes.iter().map(|b| json!({
            "x": b.x, "y": b.y, "w": b.w, "h": b.h, "label": b.label, "score": b.score,
        })).collect::<Vec<_>>() });
        // Waits when viewers' encoders fall behind: backpressure, not a growing queue.
        publisher.send_with_metadata(frame, meta).await?;
    }
    running.shutdown().await;
    Ok(())
}

struct Box2 {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    label: &'static str,
    score: f64,
}

/// Stand-in for a detector: two objects moving on fixed paths.
fn detect(n: u64) -> Vec<Box2> {
    let t = n as f64 / 30.0;
    vec![
        Box2 {
            x: (200.0 + 400.0 * (t * 0.7).sin().abs()) as usize,
            y: 150,
            w: 220,
            h: 160,
            label: "cat",
            score: 0.93,
        },
        Box2 {
            x: 700,
            y: (250.0 + 200.0 * (t * 1.3).cos().abs()) as usize,
            w: 180,
            h: 240,
            label: "dog",
            score: 0.81,
        },
    ]
}

/// Render a dark frame with the objects as filled rectangles (BGR, as OpenCV gives).
fn draw(boxes: &[Box2]) -> framecast::Result<Frame> {
    let mut bgr = vec![40u8; W * H * 3];
    for (i, b) in boxes.iter().enumerate() {
        let colour = if i == 0 {
            [60, 180, 255]
        } else {
            [255, 160, 60]
        };
        for y in b.y..(b.y + b.h).min(H) {
            for x in b.x..(b.x + b.w).min(W) {
                bgr[(y * W + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
    }
    Frame::raw(W as u32, H as u32, PixelFormat::Bgr24, bgr)
}
