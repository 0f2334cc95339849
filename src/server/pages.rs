//! The pages a person opens: the dashboard, the viewer, the publish page and
//! their scripts and styles, all embedded in the binary (no files on disk, no CDN).
//!
//! Only names in [`ASSETS`] are served under `/assets/`, so a request can
//! never reach the file system.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{Error, Result};
use crate::stream::StreamId;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const INDEX_HTML: &str = include_str!("../../web/index.html");
const VIEWER_HTML: &str = include_str!("../../web/viewer.html");
const PUBLISH_HTML: &str = include_str!("../../web/publish.html");

/// Files served under `/assets/{name}`: name, content type, body.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("../../web/style.css")),
    ("dashboard.js", JS, include_str!("../../web/dashboard.js")),
    ("viewer.js", JS, include_str!("../../web/viewer.js")),
    ("overlay.js", JS, include_str!("../../web/overlay.js")),
    ("transports.js", JS, include_str!("../../web/transports.js")),
    (
        "transport-ws.js",
        JS,
        include_str!("../../web/transport-ws.js"),
    ),
    (
        "transport-mjpeg.js",
        JS,
        include_str!("../../web/transport-mjpeg.js"),
    ),
    (
        "transport-webrtc.js",
        JS,
        include_str!("../../web/transport-webrtc.js"),
    ),
    (
        "transport-hls.js",
        JS,
        include_str!("../../web/transport-hls.js"),
    ),
    (
        "viewer-webrtc.js",
        JS,
        include_str!("../../web/viewer-webrtc.js"),
    ),
    ("viewer-hls.js", JS, include_str!("../../web/viewer-hls.js")),
];

/// Routes for `/`, `/streams/{id}`, `/publish/{id}` and `/assets/{file}`.
///
/// Generic over the router state so it merges into the app's router whatever
/// its state is; the pages themselves need none.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML) }))
        .route("/streams/{id}", get(viewer))
        .route("/publish/{id}", get(publish))
        .route("/assets/{file}", get(asset))
}

async fn viewer(Path(id): Path<String>) -> Result<Response> {
    StreamId::parse(&id)?;
    Ok(page(VIEWER_HTML))
}

async fn publish(Path(id): Path<String>) -> Result<Response> {
    StreamId::parse(&id)?;
    Ok(page(PUBLISH_HTML))
}

async fn asset(Path(file): Path<String>) -> Result<Response> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| Error::not_found(format!("no asset named {file:?}")))?;
    Ok(embedded(content_type, body))
}

fn page(body: &'static str) -> Response {
    embedded(HTML, body)
}

/// An embedded file; `no-cache` so a new binary's pages are picked up at once.
fn embedded(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_path(path: &str) -> (StatusCode, String, String) {
        let app: Router = routes();
        let res = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn pages_are_html_and_load_their_scripts() {
        let (s, ct, body) = get_path("/").await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, HTML));
        assert!(body.contains("assets/dashboard.js"));
        let (s, ct, body) = get_path("/streams/demo").await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, HTML));
        assert!(body.contains("assets/viewer.js"));
        let (s, _, body) = get_path("/publish/cam-1").await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.contains("webcam"));
    }

    #[tokio::test]
    async fn bad_ids_are_400_json_errors() {
        for path in ["/streams/bad.id", "/streams/%2e%2e", "/publish/a%20b"] {
            let (s, ct, body) = get_path(path).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path}");
            assert!(ct.starts_with("application/json"), "{path}: {ct}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["kind"], "bad_request", "{path}: {body}");
        }
    }

    #[tokio::test]
    async fn assets_have_their_content_types_and_unknown_ones_are_404() {
        let (s, ct, _) = get_path("/assets/viewer.js").await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, JS));
        let (s, ct, _) = get_path("/assets/style.css").await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, CSS));
        for path in [
            "/assets/nope.js",
            "/assets/..%2fCargo.toml",
            "/assets/index.html",
        ] {
            let (s, _, _) = get_path(path).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        }
    }

    /// Every `assets/x` a page names and every `./x.js` a script imports is embedded.
    #[test]
    fn every_referenced_asset_is_embedded() {
        let mut texts = vec![INDEX_HTML, VIEWER_HTML, PUBLISH_HTML];
        texts.extend(ASSETS.iter().map(|(_, _, body)| *body));
        let mut referenced = Vec::new();
        for text in texts {
            for marker in ["assets/", "'./"] {
                for (i, _) in text.match_indices(marker) {
                    let rest = &text[i + marker.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                        .collect();
                    if name.ends_with(".js") || name.ends_with(".css") {
                        referenced.push(name);
                    }
                }
            }
        }
        assert!(referenced.len() >= 7, "found only {referenced:?}");
        for name in referenced {
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == name),
                "{name} is referenced but not embedded in ASSETS"
            );
        }
    }
}
