//! HLS helpers for tests: a frame pump that pushes a changing picture at
//! 30 fps with pts that name the frame, and readers of a media playlist's
//! segments, tags, preload hint and media sequence, and plain GETs.

use std::time::Duration;

use framecast::{Frame, StreamId};
use tokio::task::JoinHandle;

use crate::server::TestServer;

/// Push solid frames of changing colour at 30 fps into `id` (created if
/// needed, as a push stream) until the stream goes away. Frame `n` has pts
/// `n/30` s, so a sample's pts names the frame.
pub fn pump(srv: &TestServer, id: &str, w: u32, h: u32) -> JoinHandle<()> {
    let p = srv
        .hub
        .publisher_or_create(&StreamId::parse(id).unwrap(), "push")
        .unwrap();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / 30));
        for n in 0u64.. {
            tick.tick().await;
            let c = (n * 5 % 250) as u8;
            let f = Frame::solid(w, h, [c, 255 - c, (n % 7 * 30) as u8]).unwrap();
            if p.send_at(f, Duration::from_nanos(n * 1_000_000_000 / 30))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// (EXTINF seconds, uri, init uri) of each complete segment of `playlist`.
pub fn segments(playlist: &str) -> Vec<(f64, String, String)> {
    let mut out = Vec::new();
    let (mut init, mut dur) = (String::new(), None);
    for line in playlist.lines() {
        if let Some(m) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            init = m.trim_end_matches('"').to_string();
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().ok();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((
                dur.take().expect("EXTINF before uri"),
                line.to_string(),
                init.clone(),
            ));
        }
    }
    out
}

/// The rest of the first line of `playlist` that starts with `name`.
pub fn tag<'a>(playlist: &'a str, name: &str) -> Option<&'a str> {
    playlist.lines().find_map(|l| l.strip_prefix(name))
}

/// (media sequence, part index) of the preload-hinted part; panics without one.
pub fn preload_hint(playlist: &str) -> (u64, usize) {
    let uri = tag(playlist, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-").expect("a preload hint");
    let (m, i) = uri.trim_end_matches(".m4s\"").split_once('.').unwrap();
    (m.parse().unwrap(), i.parse().unwrap())
}

/// `#EXT-X-MEDIA-SEQUENCE`; panics without one.
pub fn media_sequence(playlist: &str) -> u64 {
    tag(playlist, "#EXT-X-MEDIA-SEQUENCE:")
        .unwrap()
        .parse()
        .unwrap()
}

/// GET `url` (panics when the request itself fails).
pub async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request")
}

/// GET `url`, require 200, and return the body as text.
pub async fn text(url: &str) -> String {
    let r = get(url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}
