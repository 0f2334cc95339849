//! The WebSocket opening handshake (RFC 6455 §4.2) on top of hyper's upgrade.
//!
//! framecast writes viewer frames itself (see `docs/design/0003-websocket-
//! framing.md`), so it takes the raw upgraded connection instead of a
//! message-level socket.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hyper::upgrade::{OnUpgrade, Upgraded};
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};

/// A validated WebSocket upgrade request.
pub struct WsUpgrade {
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let accept = check_request(&parts.method, parts.version, &parts.headers)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(|| Error::bad_request("this connection cannot be upgraded"))?;
        Ok(Self { accept, on_upgrade })
    }
}

impl WsUpgrade {
    /// Answer 101 and run `session` on the connection once hyper hands it over.
    pub fn on_upgrade<F, Fut>(self, session: F) -> Response
    where
        F: FnOnce(Upgraded) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => session(up).await,
                Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
            }
        });
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = resp.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        resp
    }
}

/// Check an upgrade request and return its `Sec-WebSocket-Accept` value.
pub fn check_request(method: &Method, version: Version, h: &HeaderMap) -> Result<HeaderValue> {
    if method != Method::GET || version != Version::HTTP_11 {
        return Err(Error::bad_request(
            "a WebSocket upgrade must be an HTTP/1.1 GET",
        ));
    }
    if !has_token(h, header::UPGRADE, "websocket") {
        return Err(Error::bad_request(
            "not a WebSocket request: missing `Upgrade: websocket`",
        ));
    }
    if !has_token(h, header::CONNECTION, "upgrade") {
        return Err(Error::bad_request(
            "not a WebSocket request: missing `Connection: upgrade`",
        ));
    }
    if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err(Error::bad_request(
            "unsupported WebSocket version: Sec-WebSocket-Version must be 13",
        ));
    }
    let key = h
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| Error::bad_request("missing Sec-WebSocket-Key"))?;
    if B64.decode(key.as_bytes()).map(|k| k.len()) != Ok(16) {
        return Err(Error::bad_request(
            "Sec-WebSocket-Key must be 16 bytes in base64",
        ));
    }
    Ok(HeaderValue::from_str(&accept_key(key.as_bytes())).expect("base64 is a valid header"))
}

/// `Sec-WebSocket-Accept` for a client key.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    B64.encode(sha.finalize())
}

fn has_token(h: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn rfc_example_key() {
        let v = check_request(&Method::GET, Version::HTTP_11, &headers(GOOD)).unwrap();
        assert_eq!(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        for (drop, needle) in [
            ("upgrade", "Upgrade"),
            ("connection", "Connection"),
            ("sec-websocket-version", "version"),
            ("sec-websocket-key", "Key"),
        ] {
            let pairs: Vec<_> = GOOD.iter().copied().filter(|(k, _)| *k != drop).collect();
            let e = check_request(&Method::GET, Version::HTTP_11, &headers(&pairs)).unwrap_err();
            assert!(e.message().contains(needle), "{drop}: {}", e.message());
        }
        let e = check_request(&Method::POST, Version::HTTP_11, &headers(GOOD)).unwrap_err();
        assert!(e.message().contains("GET"));
    }
}
