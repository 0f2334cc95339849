//! Blocking file work: listing the folder and turning one file into a frame.
//! Called through `spawn_blocking`.

use std::io::Read;
use std::path::Path;

use super::playlist::{Entry, FileKey};
use crate::codec::image::{load_frame, Prepared};
use crate::codec::jpeg;
use crate::error::{Error, ErrorKind, Result};
use crate::media::Frame;

/// JPEG quality for letterboxed pictures, encoded once and cached.
pub(crate) const CACHE_QUALITY: u8 = 90;

/// The regular files of `dir` (symlinks followed), hidden ones (`.name`) left out.
pub(crate) fn list_dir(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = item.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue; // vanished, or a dangling link
        };
        if !meta.is_file() {
            continue;
        }
        let key = FileKey {
            path,
            size: meta.len(),
            mtime: meta.modified().ok(),
        };
        out.push(Entry { name, key });
    }
    Ok(out)
}

/// The largest file worth reading for an image of at most `max_pixels`
/// (compressed images are smaller than their raw pixels, give or take
/// headers); anything bigger is not a picture we could show.
fn max_file_bytes(max_pixels: usize) -> u64 {
    (max_pixels as u64)
        .saturating_mul(8)
        .saturating_add(16 << 20)
}

/// Read one file and prepare its frame at `target` size, as JPEG: the file
/// itself when it passes through, else the letterboxed picture encoded once.
pub(crate) fn load_file(path: &Path, target: (u32, u32), max_pixels: usize) -> Result<Frame> {
    let limit = max_file_bytes(max_pixels);
    let mut data = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut data)?;
    if data.is_empty() {
        return Err(Error::bad_request("empty file"));
    }
    if data.len() as u64 > limit {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "file too large for an image",
        ));
    }
    match load_frame(data.into(), target, max_pixels)? {
        Prepared::PassThrough(frame) => Ok(frame),
        Prepared::Converted(frame) => jpeg::frame(jpeg::encode(&frame, CACHE_QUALITY)?),
    }
}
