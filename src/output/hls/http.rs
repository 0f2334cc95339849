//! HTTP: `GET /streams/{id}/hls/index.m3u8` (with LL-HLS blocking reload),
//! `init.mp4` / `init-{n}.mp4`, `seg-{msn}.m4s` and `part-{msn}.{i}.m4s`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::stream;

use super::playlist;
use super::segmenter::{Lookup, Reload};
use super::store::{ClientKey, HlsStream, Step};
use super::{Hls, HlsConfig};
use crate::error::{Error, Result};
use crate::http::extract::{peer, Id, Query};
use crate::stream::Hub;

/// `Content-Type` of playlists.
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

/// Routes under `/streams/{id}/hls/`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
    Arc<Hls>: FromRef<S>,
{
    Router::new()
        .route("/streams/{id}/hls/index.m3u8", get(playlist))
        .route("/streams/{id}/hls/{file}", get(file))
}

/// The requesting client: peer address and a hash of its User-Agent.
struct Client(ClientKey);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        parts.headers.get(header::USER_AGENT).hash(&mut h);
        Ok(Client((
            peer(&parts.extensions).map(|a| a.ip()),
            h.finish(),
        )))
    }
}

fn session(
    hub: &Hub,
    hls: &Hls,
    id: &crate::stream::StreamId,
    client: ClientKey,
) -> Result<Arc<HlsStream>> {
    let stream = hub.require(id)?;
    Ok(hls.touch(&stream, client, &hub.shutdown_token()))
}

/// Wait (bounded) for the first complete segment: never an empty playlist.
async fn first_segment(hs: &HlsStream, cfg: &HlsConfig) -> Result<()> {
    let wait = Duration::from_millis(cfg.first_segment_wait_ms);
    hs.wait_for(wait, |s| match s.has_segment() {
        true => Step::Done(()),
        false => Step::Wait,
    })
    .await
    .ok_or_else(|| {
        Error::unavailable("no HLS segment yet: the stream has no video, or it is starting")
    })
}

async fn playlist(
    State(hub): State<Arc<Hub>>,
    State(hls): State<Arc<Hls>>,
    Id(id): Id,
    q: Query,
    Client(client): Client,
) -> Result<Response> {
    let msn: Option<u64> = q.get("_HLS_msn")?;
    let part: Option<usize> = q.get("_HLS_part")?;
    if part.is_some() && msn.is_none() {
        return Err(Error::bad_request("_HLS_part needs _HLS_msn"));
    }
    let hs = session(&hub, &hls, &id, client)?;
    let cfg = hls.config();
    first_segment(&hs, cfg).await?;
    if let Some(msn) = msn {
        blocking_reload(&hs, cfg, msn, part).await?;
    }
    let text = hs
        .with(playlist::render)
        .ok_or_else(|| Error::unavailable("the HLS session restarted; retry"))?;
    response(PLAYLIST_TYPE, "no-cache", Body::from(text), None)
}

async fn blocking_reload(
    hs: &HlsStream,
    cfg: &HlsConfig,
    msn: u64,
    part: Option<usize>,
) -> Result<()> {
    let wait = Duration::from_millis(cfg.block_timeout_ms);
    let r = hs
        .wait_for(wait, |s| match s.reload(msn, part) {
            Reload::Ready => Step::Done(Ok(())),
            Reload::Wait => Step::Wait,
            Reload::TooFar => Step::Done(Err(Error::bad_request(format!(
                "_HLS_msn={msn} _HLS_part={part:?} is too far ahead of the live edge (msn {})",
                s.open_msn()
            )))),
        })
        .await;
    r.unwrap_or_else(|| {
        Err(Error::unavailable(
            "the requested playlist update did not come in time",
        ))
    })
}

/// A file under `hls/`.
#[derive(Debug, PartialEq, Eq)]
enum File {
    Init(Option<u64>),
    Segment(u64),
    Part(u64, usize),
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_name(name: &str) -> Option<File> {
    if name == "init.mp4" {
        return Some(File::Init(None));
    }
    if let Some(n) = name
        .strip_prefix("init-")
        .and_then(|r| r.strip_suffix(".mp4"))
    {
        return number(n).map(|n| File::Init(Some(n)));
    }
    if let Some(n) = name
        .strip_prefix("seg-")
        .and_then(|r| r.strip_suffix(".m4s"))
    {
        return number(n).map(File::Segment);
    }
    let (m, i) = name
        .strip_prefix("part-")?
        .strip_suffix(".m4s")?
        .split_once('.')?;
    Some(File::Part(number(m)?, number(i)?))
}

async fn file(
    State(hub): State<Arc<Hub>>,
    State(hls): State<Arc<Hls>>,
    Id(id): Id,
    uri: Uri,
    Client(client): Client,
) -> Result<Response> {
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    let hs = session(&hub, &hls, &id, client)?;
    let cfg = hls.config();
    let missing = || Error::not_found(format!("no HLS file {name:?} in stream {id}"));
    let file = parse_name(name).ok_or_else(missing)?;
    let block = Duration::from_millis(cfg.block_timeout_ms);
    let (body, ready, last) = match file {
        File::Init(generation) => {
            if generation.is_none() {
                first_segment(&hs, cfg).await?;
            }
            let init = hs.with(|s| s.init(generation)).ok_or_else(missing)?;
            if generation.is_none() {
                // `init.mp4` names whichever init is current: never cache it.
                return response("video/mp4", "no-cache", Body::from(init.data.clone()), None);
            }
            (Body::from(init.data.clone()), None, None)
        }
        File::Segment(msn) => {
            let got = hs.wait_for(block, |s| {
                step(s.segment(msn), |seg| {
                    let chunks: Vec<Bytes> = seg.parts.iter().map(|p| p.data.clone()).collect();
                    (chunks, seg.ready_us, seg.last_frame_us())
                })
            });
            let (chunks, ready, last) = got.await.flatten().ok_or_else(missing)?;
            let len: usize = chunks.iter().map(Bytes::len).sum();
            let body = Body::from_stream(stream::iter(
                chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
            ));
            return response_with_len(body, len, cfg, Some(ready), Some(last));
        }
        File::Part(msn, i) => {
            let got = hs.wait_for(block, |s| step(s.part(msn, i), |p| p));
            let p = got.await.flatten().ok_or_else(missing)?;
            (
                Body::from(p.data.clone()),
                Some(p.ready_us),
                Some(p.last_frame_us),
            )
        }
    };
    let cache = format!("public, max-age={}, immutable", cfg.segment_max_age_s);
    response("video/mp4", &cache, body, Some((ready, last)))
}

/// What a blocking request does with a lookup: take what `f` makes of the
/// file, wait for it, or stop with nothing (404).
fn step<T, U>(lookup: Lookup<T>, f: impl FnOnce(T) -> U) -> Step<Option<U>> {
    match lookup {
        Lookup::Ready(t) => Step::Done(Some(f(t))),
        Lookup::Wait => Step::Wait,
        Lookup::Gone => Step::Done(None),
    }
}

type Stamps = (Option<u64>, Option<u64>);

fn response(kind: &str, cache: &str, body: Body, stamps: Option<Stamps>) -> Result<Response> {
    let mut b = Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::CACHE_CONTROL, cache);
    if let Some((ready, last)) = stamps {
        if let Some(r) = ready {
            b = b.header("X-Framecast-Ready-Us", r);
        }
        if let Some(l) = last {
            b = b.header("X-Framecast-Last-Frame-Us", l);
        }
    }
    b.body(body).map_err(|e| Error::internal(e.to_string()))
}

fn response_with_len(
    body: Body,
    len: usize,
    cfg: &HlsConfig,
    ready: Option<u64>,
    last: Option<u64>,
) -> Result<Response> {
    let cache = format!("public, max-age={}, immutable", cfg.segment_max_age_s);
    let mut r = response("video/mp4", &cache, body, Some((ready, last)))?;
    r.headers_mut().insert(header::CONTENT_LENGTH, len.into());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(parse_name("init.mp4"), Some(File::Init(None)));
        assert_eq!(parse_name("init-3.mp4"), Some(File::Init(Some(3))));
        assert_eq!(parse_name("seg-12.m4s"), Some(File::Segment(12)));
        assert_eq!(parse_name("part-12.4.m4s"), Some(File::Part(12, 4)));
        for bad in [
            "seg-.m4s",
            "seg--1.m4s",
            "seg-1x.m4s",
            "seg-99999999999999999999999.m4s",
            "part-1.m4s",
            "part-1.2.3.m4s",
            "init-.mp4",
            "x.ts",
            "seg-+1.m4s",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
