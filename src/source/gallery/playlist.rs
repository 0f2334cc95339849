//! The playlist: which file plays next. Sans-IO: the directory listing is
//! handed in, so the ordering, wrap-around and bad-file memory are plain
//! data and easy to test.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::SystemTime;

/// A file as it was when listed. A file that changes (size or mtime) gets a
/// new key, so it is looked at afresh: a half-copied photo is retried once
/// the copy completes, and a cached frame never outlives its file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub path: PathBuf,
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

/// One file of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The file name; the play order is by this name.
    pub name: OsString,
    pub key: FileKey,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Play this file.
    Play(Entry),
    /// Past the last file: rescan and start again (or hold, if not looping).
    End,
    /// Nothing that could play: show the placeholder.
    Empty,
}

/// The sorted listing, the position (the name last handed out) and the
/// files known to be bad.
#[derive(Debug, Default)]
pub(crate) struct Playlist {
    entries: Vec<Entry>,
    last: Option<OsString>,
    bad: HashSet<FileKey>,
}

impl Playlist {
    /// Take a fresh listing. The position is kept by name, so files added or
    /// removed around it do not make the show jump; bad-file memory is kept
    /// only for files still listed unchanged.
    pub fn replace(&mut self, mut entries: Vec<Entry>) {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let keys: HashSet<&FileKey> = entries.iter().map(|e| &e.key).collect();
        self.bad.retain(|k| keys.contains(k));
        self.entries = entries;
    }

    /// The next file after the last one handed out, skipping bad ones.
    pub fn next(&mut self) -> Step {
        let bad = &self.bad;
        let mut playable = self
            .entries
            .iter()
            .filter(|e| !bad.contains(&e.key))
            .peekable();
        if playable.peek().is_none() {
            return Step::Empty;
        }
        let last = self.last.as_ref();
        match playable.find(|e| last.is_none_or(|l| e.name > *l)) {
            Some(e) => {
                let e = e.clone();
                self.last = Some(e.name.clone());
                Step::Play(e)
            }
            None => Step::End,
        }
    }

    /// Go back to the first file.
    pub fn restart(&mut self) {
        self.last = None;
    }

    /// Remember a file as bad; true the first time (log it then, only then).
    pub fn mark_bad(&mut self, key: FileKey) -> bool {
        self.bad.insert(key)
    }

    /// The keys of every listed file.
    pub fn keys(&self) -> impl Iterator<Item = &FileKey> {
        self.entries.iter().map(|e| &e.key)
    }

    /// Number of listed files (good or bad).
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64) -> Entry {
        Entry {
            name: name.into(),
            key: FileKey {
                path: PathBuf::from("/d").join(name),
                size,
                mtime: None,
            },
        }
    }

    fn name(step: Step) -> String {
        match step {
            Step::Play(e) => e.name.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn plays_in_name_order_then_ends() {
        let mut p = Playlist::default();
        p.replace(vec![
            entry("b.jpg", 1),
            entry("a.png", 1),
            entry("c.jpg", 1),
        ]);
        let got: Vec<String> = (0..4).map(|_| name(p.next())).collect();
        assert_eq!(got, ["a.png", "b.jpg", "c.jpg", "End"]);
        p.restart();
        assert_eq!(name(p.next()), "a.png");
    }

    #[test]
    fn bad_files_are_skipped_and_remembered_once() {
        let mut p = Playlist::default();
        p.replace(vec![entry("a", 1), entry("b", 1), entry("c", 1)]);
        assert_eq!(name(p.next()), "a");
        let Step::Play(b) = p.next() else { panic!() };
        assert!(p.mark_bad(b.key.clone()));
        assert!(!p.mark_bad(b.key.clone()));
        assert_eq!(name(p.next()), "c");
        p.restart();
        assert_eq!(name(p.next()), "a");
        assert_eq!(name(p.next()), "c");
        // The file changes: it gets another chance.
        p.replace(vec![entry("a", 1), entry("b", 2), entry("c", 1)]);
        assert!(p.mark_bad(entry("b", 2).key));
    }

    #[test]
    fn listing_changes_keep_the_position() {
        let mut p = Playlist::default();
        p.replace(vec![entry("a", 1), entry("c", 1)]);
        assert_eq!(name(p.next()), "a");
        p.replace(vec![entry("a", 1), entry("b", 1), entry("c", 1)]);
        assert_eq!(name(p.next()), "b");
        p.replace(vec![entry("a", 1)]);
        assert_eq!(name(p.next()), "End");
    }

    #[test]
    fn nothing_playable_is_empty() {
        let mut p = Playlist::default();
        assert_eq!(p.next(), Step::Empty);
        p.replace(vec![entry("x", 0)]);
        p.mark_bad(entry("x", 0).key);
        assert_eq!(p.next(), Step::Empty);
        assert_eq!(p.len(), 1);
    }
}
