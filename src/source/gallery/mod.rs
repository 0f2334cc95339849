//! The photo-folder source: plays the JPEG and PNG files of a folder, in
//! file-name order, one every `interval`, looping.
//!
//! * Files are told apart by their first bytes, not their names. A file that
//!   is not a readable JPEG or PNG (corrupt, truncated, empty, too large,
//!   text …) is skipped with one warning, and remembered by (path, size,
//!   mtime) so it is not looked at again until it changes.
//! * Every picture is turned upright (EXIF orientation), scaled to fit the
//!   output size and centred on black. A JPEG that already is the output
//!   size and upright goes out byte for byte.
//! * Prepared frames are cached as JPEG under a memory budget, so a loop
//!   over cached files costs no reading, decoding or encoding.
//! * The folder is listed again at most every `rescan`, and at every wrap
//!   of the loop: files added or removed while running are picked up.
//! * An empty or missing folder shows a placeholder card at the output
//!   size, repeated at the interval, so viewers never stall.
//!
//! See `docs/gallery.md` for the options.

mod cache;
mod files;
mod placeholder;
mod player;
mod playlist;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::codec::image::{DEFAULT_MAX_PIXELS, DEFAULT_TARGET};
use crate::error::{Error, Result};
use crate::media::MAX_DIMENSION;
use crate::stream::Publisher;

/// Settings of a gallery stream; the `[stream.gallery]` section of the TOML
/// config. Every field has a default.
///
/// ```toml
/// dir = "/srv/photos"   # the folder to play
/// interval_ms = 2000    # time each picture is shown (33 for ~30 fps)
/// width = 1280          # output size: pictures are letterboxed to it
/// height = 720
/// loop = true           # start again after the last file
/// rescan_ms = 2000      # list the folder again at most this often
/// max_pixels = 64000000 # refuse pictures bigger than this
/// cache_mib = 256       # memory for prepared frames
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GalleryConfig {
    /// The folder to play (default `photos`).
    pub dir: PathBuf,
    /// Time each picture is shown (TOML `interval_ms`; default 2 s).
    #[serde(rename = "interval_ms", deserialize_with = "millis")]
    pub interval: Duration,
    /// Output width in pixels (default 1280).
    pub width: u32,
    /// Output height in pixels (default 720).
    pub height: u32,
    /// Start again after the last file (TOML `loop`; default true). When
    /// false, the last picture stays up, and files added later whose names
    /// sort after it are still shown as they arrive.
    #[serde(rename = "loop")]
    pub loop_: bool,
    /// List the folder again at most this often (TOML `rescan_ms`; default 2 s).
    #[serde(rename = "rescan_ms", deserialize_with = "millis")]
    pub rescan: Duration,
    /// Pictures with more pixels than this are skipped (default 64 000 000).
    pub max_pixels: usize,
    /// Memory for prepared frames, in MiB (default 256).
    pub cache_mib: usize,
}

impl Default for GalleryConfig {
    fn default() -> Self {
        GalleryConfig {
            dir: PathBuf::from("photos"),
            interval: Duration::from_secs(2),
            width: DEFAULT_TARGET.0,
            height: DEFAULT_TARGET.1,
            loop_: true,
            rescan: Duration::from_secs(2),
            max_pixels: DEFAULT_MAX_PIXELS,
            cache_mib: 256,
        }
    }
}

fn millis<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_millis)
}

impl GalleryConfig {
    /// A config for `dir` with the defaults for the rest.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        GalleryConfig {
            dir: dir.into(),
            ..Default::default()
        }
    }

    /// Check the values; the error says which one is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.interval.is_zero() {
            return Err(Error::bad_request(
                "gallery: interval_ms must be at least 1",
            ));
        }
        let range = 1..=MAX_DIMENSION;
        if !range.contains(&self.width) || !range.contains(&self.height) {
            return Err(Error::bad_request(format!(
                "gallery: width and height must be 1..={MAX_DIMENSION}, got {}x{}",
                self.width, self.height
            )));
        }
        if self.max_pixels == 0 {
            return Err(Error::bad_request("gallery: max_pixels must be at least 1"));
        }
        Ok(())
    }

    /// The same settings brought into range (used by [`run`], which never fails).
    fn normalized(mut self) -> Self {
        self.interval = self.interval.max(Duration::from_millis(1));
        self.width = self.width.clamp(1, MAX_DIMENSION);
        self.height = self.height.clamp(1, MAX_DIMENSION);
        self.max_pixels = self.max_pixels.max(1);
        self
    }

    /// The output size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

/// Play the folder into `publisher` until `token` is cancelled (or the
/// stream closes). The next picture is prepared while the current one is
/// up, so frames go out on a steady beat; a tick missed because a big
/// picture took long to decode is skipped, not bunched.
pub async fn run(publisher: Publisher, cfg: GalleryConfig, token: CancellationToken) {
    if let Err(e) = cfg.validate() {
        tracing::warn!(error = %e, "gallery: bad settings, using the nearest valid ones");
    }
    let cfg = cfg.normalized();
    tracing::info!(dir = %cfg.dir.display(), interval_ms = cfg.interval.as_millis() as u64,
        "gallery: playing folder");
    let mut ticker = tokio::time::interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut player = player::Player::new(cfg);
    loop {
        let frame = tokio::select! {
            _ = token.cancelled() => break,
            f = player.next_frame() => f,
        };
        tokio::select! {
            _ = token.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let Some(frame) = frame else { continue };
        let sent = tokio::select! {
            _ = token.cancelled() => break,
            r = publisher.send(frame) => r,
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "gallery: stream closed, stopping");
            break;
        }
    }
    tracing::debug!("gallery: stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_names_and_defaults() {
        let c: GalleryConfig =
            toml::from_str("dir = \"/p\"\ninterval_ms = 33\nloop = false\nrescan_ms = 500")
                .unwrap();
        assert_eq!(c.dir, PathBuf::from("/p"));
        assert_eq!(c.interval, Duration::from_millis(33));
        assert_eq!(c.rescan, Duration::from_millis(500));
        assert!(!c.loop_);
        assert_eq!((c.size(), c.cache_mib), ((1280, 720), 256));
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<GalleryConfig>("colour = 1").is_err());
        let zero: GalleryConfig = toml::from_str("interval_ms = 0\nwidth = 0").unwrap();
        assert!(zero.validate().is_err());
        let fixed = zero.normalized();
        assert!(fixed.validate().is_ok());
    }
}
