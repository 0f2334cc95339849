//! Prepared frames by file, under a memory budget.
//!
//! Frames are stored as JPEG (a pass-through file, or a letterboxed picture
//! encoded once), so a loop over cached files costs neither a read nor a
//! decode nor an encode. When the budget is full, new frames are simply not
//! cached: for a show that loops over more than fits, keeping a fixed part
//! cached beats evicting (which, for a cyclic order, would miss every time).

use std::collections::{HashMap, HashSet};

use super::playlist::FileKey;
use crate::media::{Frame, FrameData};

/// Prepared frames by file key.
#[derive(Debug)]
pub(crate) struct Cache {
    map: HashMap<FileKey, Frame>,
    used: usize,
    budget: usize,
}

fn cost(frame: &Frame) -> usize {
    match frame.data() {
        FrameData::Jpeg(b) => b.len(),
        FrameData::Raw { data, .. } => data.len(),
    }
}

impl Cache {
    /// An empty cache that holds up to `budget` bytes of frames.
    pub fn new(budget: usize) -> Self {
        Cache {
            map: HashMap::new(),
            used: 0,
            budget,
        }
    }

    /// The frame prepared earlier for this exact file version.
    pub fn get(&self, key: &FileKey) -> Option<Frame> {
        self.map.get(key).cloned()
    }

    /// Keep a frame if it fits in the budget; true if kept.
    pub fn insert(&mut self, key: FileKey, frame: Frame) -> bool {
        let c = cost(&frame);
        if self.used + c > self.budget {
            return false;
        }
        if let Some(old) = self.map.insert(key, frame) {
            self.used -= cost(&old);
        }
        self.used += c;
        true
    }

    /// Forget frames of files no longer listed (or changed since).
    pub fn retain(&mut self, keys: &HashSet<&FileKey>) {
        let mut freed = 0;
        self.map.retain(|k, f| {
            let keep = keys.contains(k);
            if !keep {
                freed += cost(f);
            }
            keep
        });
        self.used -= freed;
    }

    /// Bytes held.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn key(n: &str) -> FileKey {
        FileKey {
            path: PathBuf::from(n),
            size: 1,
            mtime: None,
        }
    }

    #[test]
    fn budget_is_kept_and_retain_frees() {
        let f = Frame::solid(10, 10, [1, 2, 3]).unwrap(); // 300 bytes
        let mut c = Cache::new(700);
        assert!(c.insert(key("a"), f.clone()));
        assert!(c.insert(key("b"), f.clone()));
        assert!(!c.insert(key("c"), f.clone()));
        assert_eq!((c.len(), c.used()), (2, 600));
        assert!(c.get(&key("a")).is_some() && c.get(&key("c")).is_none());
        let ka = key("a");
        c.retain(&HashSet::from([&ka]));
        assert_eq!((c.len(), c.used()), (1, 300));
        assert!(c.insert(key("c"), f));
    }
}
