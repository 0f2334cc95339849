//! The test pattern: colour bars, a moving box, a clock and the frame number.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::media::draw::{draw_text, fill_rect, text_width};
use crate::media::{Frame, PixelFormat};
use crate::stream::Publisher;

/// `[stream.pattern]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatternConfig {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
}

impl Default for PatternConfig {
    fn default() -> Self {
        PatternConfig {
            width: 1280,
            height: 720,
            fps: 30.0,
        }
    }
}

const BARS: [[u8; 3]; 7] = [
    [192, 192, 192],
    [192, 192, 0],
    [0, 192, 192],
    [0, 192, 0],
    [192, 0, 192],
    [192, 0, 0],
    [0, 0, 192],
];

/// Renders pattern frames; the background is drawn once.
pub struct PatternRenderer {
    width: usize,
    height: usize,
    background: Vec<u8>,
}

impl PatternRenderer {
    /// A renderer for `width` x `height` frames.
    pub fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width.max(16) as usize, height.max(16) as usize);
        let mut bg = vec![0u8; w * h * 3];
        let bar_h = h * 2 / 3;
        for (i, c) in BARS.iter().enumerate() {
            let x0 = i * w / BARS.len();
            let x1 = (i + 1) * w / BARS.len();
            fill_rect(&mut bg, w, h, x0, 0, x1 - x0, bar_h, *c);
        }
        for x in 0..w {
            let v = (x * 255 / w.max(1)) as u8;
            fill_rect(&mut bg, w, h, x, bar_h, 1, h - bar_h, [v, v, v]);
        }
        PatternRenderer {
            width: w,
            height: h,
            background: bg,
        }
    }

    /// Frame number `n`, showing `clock` (e.g. "12:34:56.789").
    pub fn render(&self, n: u64, clock: &str) -> Frame {
        let (w, h) = (self.width, self.height);
        let mut buf = self.background.clone();
        let unit = (h / 90).max(1);
        // A box sweeping left to right so motion is obvious.
        let box_w = w / 12;
        let travel = (w - box_w).max(1) as u64;
        let phase = (n * 6) % (2 * travel);
        let x = if phase < travel {
            phase
        } else {
            2 * travel - phase
        } as usize;
        fill_rect(
            &mut buf,
            w,
            h,
            x,
            h * 2 / 3 - box_w / 2,
            box_w,
            box_w / 2,
            [255, 255, 255],
        );
        let band_h = 26 * unit;
        let band_y = h / 3 - band_h / 2;
        fill_rect(&mut buf, w, h, 0, band_y, w, band_h, [16, 16, 16]);
        let big = 2 * unit;
        let clock_x = w.saturating_sub(text_width(clock, big)) / 2;
        draw_text(
            &mut buf,
            w,
            clock_x,
            band_y + 2 * unit,
            clock,
            big,
            [255, 255, 255],
        );
        let label = format!("FRAMECAST #{n}");
        let lx = w.saturating_sub(text_width(&label, unit)) / 2;
        draw_text(
            &mut buf,
            w,
            lx,
            band_y + 18 * unit,
            &label,
            unit,
            [255, 200, 0],
        );
        Frame::raw(w as u32, h as u32, PixelFormat::Rgb24, buf)
            .expect("pattern buffer has the frame's size")
    }
}

/// Wall-clock time of day as `HH:MM:SS.mmm` (UTC).
pub fn clock_text() -> String {
    let ms = crate::stream::unix_us() / 1000;
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// Publish pattern frames at the configured rate until `token` is cancelled.
pub async fn run(publisher: Publisher, cfg: PatternConfig, token: CancellationToken) {
    let renderer = std::sync::Arc::new(PatternRenderer::new(cfg.width, cfg.height));
    let period = Duration::from_secs_f64(1.0 / cfg.fps.clamp(0.1, 240.0));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    for n in 1u64.. {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tick.tick() => {}
        }
        let r = renderer.clone();
        let clock = clock_text();
        let Ok(frame) = tokio::task::spawn_blocking(move || r.render(n, &clock)).await else {
            break;
        };
        tokio::select! {
            _ = token.cancelled() => break,
            sent = publisher.send(frame) => if sent.is_err() { break },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_differ_and_have_the_size() {
        let r = PatternRenderer::new(320, 180);
        let a = r.render(1, "00:00:00.000");
        let b = r.render(2, "00:00:00.033");
        assert_eq!((a.width(), a.height()), (320, 180));
        assert_ne!(a, b);
    }
}
