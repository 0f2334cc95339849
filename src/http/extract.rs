//! Extractors whose rejections are framecast's JSON errors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, RawQuery};
use axum::http::request::Parts;

use crate::error::{Error, Result};
use crate::stream::StreamId;

/// The `{id}` path segment, validated as a [`StreamId`] (400 otherwise).
pub struct Id(pub StreamId);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::bad_request(format!("bad path: {e}")))?;
        let raw = params
            .get("id")
            .ok_or_else(|| Error::internal("route has no {id} segment"))?;
        Ok(Id(StreamId::parse(raw)?))
    }
}

/// The query string as key/value pairs, with typed getters that give 400s.
pub struct Query(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let raw = raw.unwrap_or_default();
        let pairs = raw
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            })
            .collect();
        Ok(Query(pairs))
    }
}

impl Query {
    /// A parameter parsed as `T`; `None` when absent, 400 when unparsable.
    pub fn get<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::bad_request(format!("query parameter {key}={v:?} is not valid"))
            }),
        }
    }

    /// A required parameter.
    pub fn require<T: FromStr>(&self, key: &str) -> Result<T> {
        self.get(key)?
            .ok_or_else(|| Error::bad_request(format!("query parameter {key} is required")))
    }

    /// A boolean flag: present as `1`, `true`, `yes` or empty.
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.0.get(key).map(String::as_str),
            Some("" | "1" | "true" | "yes")
        )
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The peer's address when the server was started with connect info.
pub fn peer(parts_ext: &axum::http::Extensions) -> Option<SocketAddr> {
    parts_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%20b+c"), "a b c");
        assert_eq!(decode("%zz%"), "%zz%");
        assert_eq!(decode("%4"), "%4");
    }
}
