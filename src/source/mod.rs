//! Sources: what feeds a stream.

pub mod font;
pub mod gallery;
pub mod glyphs;
pub mod pattern;
pub mod push;

use std::sync::Arc;

use crate::config::{SourceKind, StreamConfig};
use crate::error::{Error, Result};
use crate::stream::{Hub, StreamId, StreamOptions};

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
            let g = cfg.gallery.clone().ok_or_else(|| {
                Error::bad_request(format!(
                    "stream {:?} needs a [stream.gallery] table",
                    cfg.id
                ))
            })?;
            g.validate()
                .map_err(|e| e.context(format!("stream {:?}", cfg.id)))?;
            let mut opts = StreamOptions::new(format!("gallery:{}", g.dir.display()));
            opts.queue = cfg.queue;
            let publisher = hub.create(id, opts)?;
            tokio::spawn(gallery::run(publisher, g, token));
        }
        SourceKind::Push => {
            let mut opts = StreamOptions::new("push");
            opts.queue = cfg.queue;
            hub.create(id, opts)?;
        }
    }
    Ok(())
}
