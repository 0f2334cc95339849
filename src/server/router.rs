//! The router, grouped by role, so that each group can take one access
//! layer (auth, limits) of its own:
//!
//! - **pages**: the dashboard, viewer and publish pages and their assets;
//! - **view**: MJPEG, snapshot, WebSocket, WHEP and HLS;
//! - **publish**: pushing frames and metadata;
//! - **api**: stream status and health;
//! - **metrics**: Prometheus.

use axum::http::{header, HeaderName};
use axum::Router;
use tower_http::cors::CorsLayer;

use super::state::AppState;
use super::{api, pages};
use crate::http::{method_not_allowed, not_found};
use crate::output::{hls, mjpeg, snapshot, whep, ws};
use crate::source::push;
use crate::stream::{Hub, OutputKind};

/// The output kinds viewers are counted under, in display order.
pub const OUTPUT_KINDS: [OutputKind; 4] = [mjpeg::KIND, ws::KIND, whep::KIND, hls::KIND];

/// Register every output kind with the hub, so stream status lists them.
pub fn register_outputs(hub: &Hub) {
    for kind in OUTPUT_KINDS {
        hub.register_output(kind);
    }
}

/// Pages a person opens.
fn pages_group() -> Router<AppState> {
    pages::routes()
}

/// Every way to watch a stream.
fn view_group() -> Router<AppState> {
    Router::new()
        .merge(mjpeg::routes())
        .merge(snapshot::routes())
        .merge(ws::routes())
        .merge(whep::routes())
        .merge(hls::routes())
}

/// Every way to publish into a stream.
fn publish_group() -> Router<AppState> {
    push::routes()
}

/// The whole router, with the state.
pub fn app(state: AppState) -> Router {
    register_outputs(&state.hub);
    Router::new()
        .merge(pages_group())
        .merge(view_group())
        .merge(publish_group())
        .merge(api::routes())
        .merge(api::metrics_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CorsLayer::very_permissive().expose_headers([
            header::LOCATION,
            header::ETAG,
            HeaderName::from_static("link"),
        ]))
        .with_state(state)
}
