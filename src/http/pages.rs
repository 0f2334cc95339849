//! The embedded pages: dashboard, viewer, webcam.
//!
//! (Stub: filled in by the pages work.)

use axum::Router;

use super::AppState;

/// Routes for `/`, `/streams/{id}`, `/publish/{id}`, `/assets/{file}`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
