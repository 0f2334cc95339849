//! The hub: every stream of a server, by id.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{pump, OutputKind, Processor, Publisher, Stream, StreamId};
use crate::error::{Error, ErrorKind, Result};

/// Settings shared by all streams of a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Default publisher queue length (frames).
    pub queue: usize,
    /// JPEG quality for encoded renditions (1-100).
    pub jpeg_quality: u8,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            queue: 10,
            jpeg_quality: 80,
        }
    }
}

/// How to create one stream.
pub struct StreamOptions {
    /// What feeds it, for the dashboard (`pattern`, `gallery:DIR`, `push` …).
    pub source: String,
    /// Queue length; the hub's default when `None`.
    pub queue: Option<usize>,
    /// Processors run on every frame, in order.
    pub processors: Vec<Box<dyn Processor>>,
    /// Hold the stream's publisher lease for as long as the returned
    /// publisher (or a clone) lives: the source is the stream's only feeder
    /// and pushes get 409. `false` leaves the stream open to pushers.
    pub exclusive: bool,
}

impl StreamOptions {
    /// Options with a source name and the defaults for the rest.
    pub fn new(source: impl Into<String>) -> Self {
        StreamOptions {
            source: source.into(),
            queue: None,
            processors: Vec::new(),
            exclusive: false,
        }
    }
}

struct Entry {
    stream: Arc<Stream>,
    publisher: Publisher,
}

/// All streams of a server.
pub struct Hub {
    streams: RwLock<BTreeMap<StreamId, Entry>>,
    outputs: Arc<RwLock<Vec<OutputKind>>>,
    config: HubConfig,
    shutdown: CancellationToken,
}

impl Hub {
    /// An empty hub.
    pub fn new(config: HubConfig) -> Arc<Self> {
        Arc::new(Hub {
            streams: RwLock::new(BTreeMap::new()),
            outputs: Default::default(),
            config,
            shutdown: CancellationToken::new(),
        })
    }

    /// The hub's settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Register an output kind, so every stream's status lists it (with 0
    /// viewers when none). Registering a kind twice is harmless.
    pub fn register_output(&self, kind: OutputKind) {
        let mut outputs = self.outputs.write();
        if !outputs.contains(&kind) {
            outputs.push(kind);
        }
    }

    /// The registered output kinds, in registration order.
    pub fn outputs(&self) -> Vec<OutputKind> {
        self.outputs.read().clone()
    }

    /// Cancelled when the server shuts down; sources stop on it.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Create a stream; 409 if one with this id exists. Needs a tokio runtime.
    pub fn create(&self, id: StreamId, opts: StreamOptions) -> Result<Publisher> {
        let mut streams = self.streams.write();
        if streams.contains_key(&id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("stream {id:?} already exists"),
            ));
        }
        let queue = opts.queue.unwrap_or(self.config.queue).max(1);
        let stream = Arc::new(Stream::new(
            id.clone(),
            &opts.source,
            self.config.jpeg_quality,
            self.outputs.clone(),
        ));
        let (tx, rx) = mpsc::channel(queue);
        let token = self.shutdown.child_token();
        tokio::spawn(pump::run(stream.clone(), rx, opts.processors, token));
        let shared = Publisher::new(stream.clone(), tx);
        let publisher = match opts.exclusive {
            true => shared.clone().with_lease(stream.claim(&opts.source)?),
            false => shared.clone(),
        };
        streams.insert(
            id,
            Entry {
                stream,
                publisher: shared,
            },
        );
        Ok(publisher)
    }

    /// The publisher of an existing stream.
    pub fn publisher(&self, id: &StreamId) -> Option<Publisher> {
        self.streams.read().get(id).map(|e| e.publisher.clone())
    }

    /// The publisher of stream `id`, creating it with `source` if it does not exist.
    pub fn publisher_or_create(&self, id: &StreamId, source: &str) -> Result<Publisher> {
        if let Some(p) = self.publisher(id) {
            return Ok(p);
        }
        match self.create(id.clone(), StreamOptions::new(source)) {
            Err(e) if e.kind() == ErrorKind::Conflict => self
                .publisher(id)
                .ok_or_else(|| Error::internal("stream vanished while being created")),
            r => r,
        }
    }

    /// A stream by id.
    pub fn get(&self, id: &StreamId) -> Option<Arc<Stream>> {
        self.streams.read().get(id).map(|e| e.stream.clone())
    }

    /// A stream by id, or a 404 error naming it.
    pub fn require(&self, id: &StreamId) -> Result<Arc<Stream>> {
        self.get(id)
            .ok_or_else(|| Error::not_found(format!("no stream named {:?}", id.as_str())))
    }

    /// Every stream, sorted by id.
    pub fn list(&self) -> Vec<Arc<Stream>> {
        self.streams
            .read()
            .values()
            .map(|e| e.stream.clone())
            .collect()
    }

    /// Remove a stream; its pump stops once its publishers are dropped.
    pub fn remove(&self, id: &StreamId) -> bool {
        self.streams.write().remove(id).is_some()
    }

    /// Stop every pump and source.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}
