//! Sources: what feeds a stream.

pub mod font;
pub mod gallery;
pub mod pattern;
pub mod push;

use std::sync::Arc;

use crate::config::{SourceKind, StreamConfig};
use crate::error::{Error, Result};
use crate::stream::{Hub, StreamId, StreamOptions};

/// `[stream.gallery]` settings (placeholder until the gallery source lands).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GallerySettings {
    /// The folder of images.
    pub dir: std::path::PathBuf,
}

impl GallerySettings {
    /// Defaults for a folder.
    pub fn for_dir(dir: std::path::PathBuf) -> Self {
        GallerySettings { dir }
    }
}

/// Create a configured stream and start its source task.
pub fn start(hub: &Arc<Hub>, cfg: &StreamConfig) -> Result<()> {
    let id = StreamId::parse(&cfg.id)?;
    let token = hub.shutdown_token();
    match cfg.source {
        SourceKind::Pattern => {
            let p = cfg.pattern.clone().unwrap_or_default();
            let mut opts = StreamOptions::new("pattern");
            opts.queue = cfg.queue;
            let publisher = hub.create(id, opts)?;
            tokio::spawn(pattern::run(publisher, p, token));
        }
        SourceKind::Gallery => {
            return Err(Error::bad_request("gallery sources are not available yet"));
        }
        SourceKind::Push => {
            let mut opts = StreamOptions::new("push");
            opts.queue = cfg.queue;
            hub.create(id, opts)?;
        }
    }
    Ok(())
}
