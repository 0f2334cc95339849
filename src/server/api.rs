//! The JSON API (stream status), health, and Prometheus metrics.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::Result;
use crate::http::extract::Id;
use crate::stream::{Hub, StreamStatus};

/// Routes: `/api/streams`, `/api/streams/{id}`, `/healthz`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
{
    Router::new()
        .route("/api/streams", get(list))
        .route("/api/streams/{id}", get(one))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
}

/// Routes: `GET /metrics` (Prometheus text format).
pub fn metrics_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Hub>: FromRef<S>,
{
    Router::new().route("/metrics", get(metrics))
}

async fn list(State(hub): State<Arc<Hub>>) -> Json<Vec<StreamStatus>> {
    Json(hub.list().iter().map(|s| s.status()).collect())
}

async fn one(State(hub): State<Arc<Hub>>, Id(id): Id) -> Result<Json<StreamStatus>> {
    Ok(Json(hub.require(&id)?.status()))
}

async fn metrics(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        super::metrics::render(&hub),
    )
}
