//! The metadata message: producer data tied to one frame, as viewers receive
//! it (WebSocket text, DataChannel) and as processors will return it.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

/// Metadata for one frame, as viewers receive it (WebSocket text, DataChannel).
#[derive(Debug, Clone, Serialize)]
pub struct MetadataMessage {
    /// Always `"metadata"`, so clients can tell it from other text messages.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The stream id.
    pub stream: Arc<str>,
    /// The frame the data belongs to.
    pub seq: u64,
    /// That frame's presentation time in ms.
    pub pts_ms: u64,
    /// Producer-defined payload (boxes, labels …).
    pub data: Value,
}
