//! The server: a hub of streams plus the HTTP listener.

/// A framecast server.
pub struct Server;
