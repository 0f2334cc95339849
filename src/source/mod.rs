//! Sources: what feeds a stream, and how a configured one is started.
//!
//! A source is chosen in a `[[stream]]` table by `source = "…"`, with its
//! settings in a table of the same name. [`SourceConfig`] is that choice as
//! a tagged enum: adding a source means adding a variant here and an arm in
//! [`start`], nothing else.

pub mod gallery;
pub mod pattern;
pub mod push;

use std::sync::Arc;

use serde::Deserialize;

use crate::error::Result;
use crate::stream::{Hub, StreamId, StreamOptions};

/// What feeds a configured stream, with that source's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// The moving test pattern (`[stream.pattern]` optional).
    Pattern {
        /// Size, rate and colours.
        #[serde(default)]
        pattern: pattern::PatternConfig,
    },
    /// A folder of photos (`[stream.gallery]` with a `dir`).
    Gallery {
        /// The folder and how to show it.
        gallery: gallery::GalleryConfig,
    },
    /// Frames pushed by clients over HTTP or WebSocket: the stream just
    /// exists, waiting, open to every pusher.
    Push {},
}

impl SourceConfig {
    /// The source's name as `/api/streams` shows it (`pattern`, `gallery:DIR`, `push`).
    pub fn describe(&self) -> String {
        match self {
            SourceConfig::Pattern { .. } => "pattern".to_string(),
            SourceConfig::Gallery { gallery } => format!("gallery:{}", gallery.dir.display()),
            SourceConfig::Push {} => "push".to_string(),
        }
    }

    /// Check the settings serde cannot.
    pub fn validate(&self) -> Result<()> {
        match self {
            SourceConfig::Gallery { gallery } => gallery.validate(),
            SourceConfig::Pattern { .. } | SourceConfig::Push {} => Ok(()),
        }
    }
}

/// Create stream `id` and start its source task. A source that makes its
/// own frames holds the stream's publisher lease, so pushes into it get 409.
pub fn start(hub: &Arc<Hub>, id: &str, queue: Option<usize>, cfg: &SourceConfig) -> Result<()> {
    let id = StreamId::parse(id)?;
    cfg.validate()
        .map_err(|e| e.context(format!("stream {:?}", id.as_str())))?;
    let mut opts = StreamOptions::new(cfg.describe());
    opts.queue = queue;
    opts.exclusive = !matches!(cfg, SourceConfig::Push {});
    let publisher = hub.create(id, opts)?;
    let token = hub.shutdown_token();
    match cfg.clone() {
        SourceConfig::Pattern { pattern } => {
            tokio::spawn(pattern::run(publisher, pattern, token));
        }
        SourceConfig::Gallery { gallery } => {
            tokio::spawn(gallery::run(publisher, gallery, token));
        }
        SourceConfig::Push {} => {}
    }
    Ok(())
}
