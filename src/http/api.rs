//! The JSON API: stream status, health, metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::extract::Id;
use super::AppState;
use crate::error::Result;
use crate::stream::StreamStatus;

/// Routes: `/api/streams`, `/api/streams/{id}`, `/healthz`, `/metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/streams", get(list))
        .route("/api/streams/{id}", get(one))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/metrics", get(metrics))
}

async fn list(State(st): State<AppState>) -> Json<Vec<StreamStatus>> {
    Json(st.hub.list().iter().map(|s| s.status()).collect())
}

async fn one(State(st): State<AppState>, Id(id): Id) -> Result<Json<StreamStatus>> {
    Ok(Json(st.hub.require(&id)?.status()))
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&st.hub),
    )
}
