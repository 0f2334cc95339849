//! Errors with a kind that maps to an HTTP status.
//!
//! Every fallible path in framecast returns [`Error`]. Its [`ErrorKind`]
//! decides the HTTP status and the `kind` field of the JSON body, its
//! message is a human sentence that says what was wrong, and it keeps the
//! error that caused it (an io, str0m, openh264 or mp4 error) as its
//! [`std::error::Error::source`], so logs can show the whole chain.

use std::fmt;
use std::sync::Arc;

/// What sort of failure an [`Error`] is; decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed input: bad id, bad query, corrupt body (400).
    BadRequest,
    /// No or wrong credentials (401).
    Unauthorized,
    /// Credentials fine but not allowed (403).
    Forbidden,
    /// Unknown stream, session or segment (404).
    NotFound,
    /// The method is not supported on this resource (405).
    MethodNotAllowed,
    /// Conflicts with the current state, e.g. the stream has another source (409).
    Conflict,
    /// The body is over the configured limit (413).
    TooLarge,
    /// The content type is not one this endpoint takes (415).
    UnsupportedMediaType,
    /// Not ready yet, e.g. no frame so far (503).
    Unavailable,
    /// A queue is full and the caller asked not to wait.
    Full,
    /// The stream or server is shutting down.
    Closed,
    /// A bug or an unexpected I/O failure (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status code for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Full => 429,
            ErrorKind::Unavailable | ErrorKind::Closed => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The snake_case name used in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::Full => "full",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Closed => "closed",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The cause of an [`Error`], shared so that errors stay cheap to clone.
type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A framecast error: a kind, a human sentence, and optionally its cause.
///
/// Two errors are equal when their kind and message are; the cause is not
/// compared.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Cause>,
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl Error {
    /// An error of `kind` with a message that says what was wrong.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keep `cause` as this error's source. The message should say what
    /// failed in framecast's words; `Display` adds the cause after a colon.
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// The kind, which decides the HTTP status.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for [`ErrorKind::BadRequest`].
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Prefix the message with context, keeping the kind.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An error and its chain of causes as one line: `what: why: deeper why`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                ErrorKind::BadRequest
            }
            _ => ErrorKind::Internal,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_keep_their_cause_and_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::from(io).context("reading /x");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.kind().status(), 404);
        assert_eq!(e.message(), "reading /x: no such file");
        let cause = e.source().expect("the io error is kept");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn chain_names_every_cause_once() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::internal("cannot write the segment").with_source(io);
        assert_eq!(chain(&e), "cannot write the segment: disk on fire");
        let same = Error::from(std::io::Error::other("gone"));
        assert_eq!(
            chain(&same),
            "gone",
            "a cause already in the message is not repeated"
        );
        assert_eq!(e, Error::internal("cannot write the segment"));
    }
}
