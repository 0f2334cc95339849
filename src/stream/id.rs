//! Stream ids: `[A-Za-z0-9_-]{1,64}`, checked once at the edge.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A validated stream name. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// Check `s` against `[A-Za-z0-9_-]{1,64}`; a 400 error says what is wrong.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() || s.len() > 64 {
            return Err(Error::bad_request(format!(
                "invalid stream id: must be 1 to 64 characters, got {}",
                s.len()
            )));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(Error::bad_request(format!(
                "invalid stream id: {c:?} is not allowed; use letters, digits, '_' and '-'"
            )));
        }
        Ok(StreamId(s.into()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a shared string (no copy).
    pub fn as_arc(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for StreamId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        StreamId::parse(s)
    }
}

impl serde::Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(StreamId::parse("cam_1-A").is_ok());
        assert!(StreamId::parse(&"a".repeat(64)).is_ok());
        assert!(StreamId::parse(&"a".repeat(65)).is_err());
        assert!(StreamId::parse("").is_err());
        assert!(StreamId::parse("../etc").is_err());
        assert!(StreamId::parse("a b").is_err());
        assert!(StreamId::parse("é").is_err());
    }
}
