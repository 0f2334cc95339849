//! The player: decides the next frame, doing file work on blocking threads.

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind as IoKind;

use tokio::task::spawn_blocking;
use tokio::time::Instant;

use super::cache::Cache;
use super::files::{list_dir, load_file, CACHE_QUALITY};
use super::placeholder;
use super::playlist::{Entry, Playlist, Step};
use super::GalleryConfig;
use crate::codec::jpeg;
use crate::error::{ErrorKind, Result};
use crate::media::Frame;

/// What the folder looked like at the last listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DirState {
    Listed,
    Missing,
    Unreadable,
}

pub(crate) struct Player {
    cfg: GalleryConfig,
    playlist: Playlist,
    cache: Cache,
    dir: DirState,
    last_scan: Option<Instant>,
    /// The frame last played, held on screen when not looping.
    held: Option<Frame>,
    /// Cards already drawn, by folder state and number of files listed.
    placeholders: HashMap<(DirState, usize), Frame>,
}

impl Player {
    pub fn new(cfg: GalleryConfig) -> Self {
        let budget = cfg.cache_mib.saturating_mul(1 << 20);
        Player {
            cfg,
            playlist: Playlist::default(),
            cache: Cache::new(budget),
            dir: DirState::Listed,
            last_scan: None,
            held: None,
            placeholders: HashMap::new(),
        }
    }

    /// The frame for the next tick: the next playable file, the held frame
    /// (not looping, at the end) or the placeholder. `None` only if even the
    /// placeholder could not be made.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        let due = self
            .last_scan
            .is_none_or(|t| t.elapsed() >= self.cfg.rescan);
        if due {
            self.rescan().await;
        }
        let mut wraps = 0;
        loop {
            match self.playlist.next() {
                Step::Play(entry) => {
                    if let Some(frame) = self.load(entry).await {
                        self.held = Some(frame.clone());
                        return Some(frame);
                    }
                }
                Step::End if !self.cfg.loop_ && self.held.is_some() => return self.held.clone(),
                Step::End if wraps < 2 => {
                    wraps += 1;
                    self.rescan().await;
                    self.playlist.restart();
                }
                Step::End | Step::Empty => return self.placeholder(),
            }
        }
    }

    /// The frame of one file: from the cache, or read and prepared on a
    /// blocking thread. A bad file is remembered and logged once.
    async fn load(&mut self, entry: Entry) -> Option<Frame> {
        if let Some(frame) = self.cache.get(&entry.key) {
            return Some(frame);
        }
        let (path, size, max) = (entry.key.path.clone(), self.cfg.size(), self.cfg.max_pixels);
        let result = spawn_blocking(move || load_file(&path, size, max))
            .await
            .unwrap_or_else(|e| Err(crate::Error::internal(format!("loader failed: {e}"))));
        match result {
            Ok(frame) => {
                if !self.cache.insert(entry.key, frame.clone()) {
                    tracing::debug!(file = %entry.name.to_string_lossy(), frames = self.cache.len(),
                        bytes = self.cache.used(), "gallery: cache full, not caching");
                }
                Some(frame)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.last_scan = None; // gone since the listing: list again next time
                None
            }
            Err(e) => {
                let path = entry.key.path.clone();
                if self.playlist.mark_bad(entry.key) {
                    tracing::warn!(file = %path.display(), error = %e, "gallery: skipping file");
                }
                None
            }
        }
    }

    /// List the folder again; drop cached frames of files gone or changed.
    async fn rescan(&mut self) {
        let dir = self.cfg.dir.clone();
        let listed = spawn_blocking(move || list_dir(&dir))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        self.last_scan = Some(Instant::now());
        let (state, entries) = match listed {
            Ok(entries) => (DirState::Listed, entries),
            Err(e) if e.kind() == IoKind::NotFound => (DirState::Missing, Vec::new()),
            Err(e) => {
                if self.dir != DirState::Unreadable {
                    tracing::warn!(dir = %self.cfg.dir.display(), error = %e,
                        "gallery: cannot read folder");
                }
                (DirState::Unreadable, Vec::new())
            }
        };
        if state == DirState::Missing && self.dir != DirState::Missing {
            tracing::warn!(dir = %self.cfg.dir.display(), "gallery: folder not found");
        }
        if state == DirState::Listed && self.dir != DirState::Listed {
            tracing::info!(dir = %self.cfg.dir.display(), "gallery: folder is back");
        }
        self.dir = state;
        self.playlist.replace(entries);
        let keys: HashSet<_> = self.playlist.keys().collect();
        self.cache.retain(&keys);
    }

    /// The placeholder card for the folder's state, made once per state.
    fn placeholder(&mut self) -> Option<Frame> {
        let key = (self.dir, self.playlist.len());
        if let Some(f) = self.placeholders.get(&key) {
            return Some(f.clone());
        }
        let title = match self.dir {
            DirState::Listed => "NO IMAGES TO SHOW",
            DirState::Missing => "FOLDER NOT FOUND",
            DirState::Unreadable => "CANNOT READ FOLDER",
        };
        let dir = self.cfg.dir.display().to_string();
        let hint = match self.playlist.len() {
            0 => "Add JPEG or PNG files".to_string(),
            n => format!("{n} files, none a readable JPEG or PNG"),
        };
        let frame = make_card(self.cfg.size(), title, &[&dir, &hint]);
        match frame {
            Ok(f) => {
                if self.placeholders.len() > 16 {
                    self.placeholders.clear();
                }
                self.placeholders.insert(key, f.clone());
                Some(f)
            }
            Err(e) => {
                tracing::error!(error = %e, "gallery: cannot draw the placeholder");
                None
            }
        }
    }
}

fn make_card(size: (u32, u32), title: &str, lines: &[&str]) -> Result<Frame> {
    let img = placeholder::draw(size.0, size.1, title, lines);
    jpeg::frame(jpeg::encode(&img.into_frame()?, CACHE_QUALITY)?)
}
