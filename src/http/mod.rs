//! The HTTP kit every layer above uses: the accept loop ([`serve`]), bounded
//! bodies ([`body`]), extractors for ids and queries ([`extract`]) and JSON
//! errors. It knows no application state and no routes: the server module
//! composes those.

pub mod body;
mod error;
pub mod extract;
pub mod serve;

pub use error::{method_not_allowed, not_found};
