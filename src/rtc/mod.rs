//! WebRTC transport (str0m), both ways: commands in, events out. It knows
//! no stream: WHEP playback and WHIP ingest are glue built on top of it.
//!
//! [`Rtc::open`] answers an SDP offer for a session that sends video
//! ([`Direction::SendOnly`], a WHEP player) or receives it
//! ([`Direction::RecvOnly`], a WHIP publisher) and hands back the session's
//! [`Events`]: [`SessionEvent::Connected`], `Media` (received H.264 access
//! units), `Data` (DataChannel messages), `KeyframeRequest` (the peer sent
//! PLI/FIR) and, last, `Closed`. The owner drives sessions with
//! [`Rtc::video`] (one access unit, its bytes shared by every listed
//! session, never copied), [`Rtc::data`], [`Rtc::request_keyframe`] and
//! [`Rtc::close`].
//!
//! str0m is sans-IO: each [session](session) is a `str0m::Rtc` state
//! machine. One tokio task, the [driver](driver), owns the UDP socket and
//! every session: it feeds them commands, datagrams (demultiplexed with
//! `Rtc::accepts`) and timeouts, and sends what they output. It never
//! waits for a peer or an owner; a slow owner loses media events, never
//! `Closed`.
//!
//! The server is ICE-lite with host candidates only: the address it
//! listens on, or the configured public address (`public_ip`).

mod clock;
mod driver;
mod events;
mod inbound;
mod net;
mod offer;
mod session;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;
use str0m::change::SdpOffer;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::Candidate;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

// The media vocabulary: the one import to change when it moves.
use crate::error::{Error, ErrorKind, Result};
use crate::media::AccessUnit;

use clock::Clock;
use driver::Cmd;
pub use events::{Events, Payload, SessionEvent};
pub use offer::Direction;
pub use session::SessionId;

/// `[webrtc]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtcConfig {
    /// UDP port for all WebRTC traffic. Default: the HTTP port + 1 (or an
    /// ephemeral port when HTTP's is ephemeral). 0 picks any free port.
    pub udp_port: Option<u16>,
    /// The address announced to peers (NAT / LAN use). Default: the HTTP
    /// listen address, or this host's outward address when that is 0.0.0.0.
    pub public_ip: Option<std::net::IpAddr>,
    /// A session with no traffic from its peer for this long is ended (ms).
    pub session_timeout_ms: u64,
    /// The most WebRTC sessions at once (503 beyond).
    pub max_sessions: usize,
}

impl Default for RtcConfig {
    fn default() -> Self {
        RtcConfig {
            udp_port: None,
            public_ip: None,
            session_timeout_ms: 15_000,
            max_sessions: 500,
        }
    }
}

/// A session just opened: its id, the SDP answer, and its events.
pub struct Opened {
    /// The session's id (for [`Rtc::video`], [`Rtc::close`] …).
    pub id: SessionId,
    /// The SDP answer to send back to the peer.
    pub answer: String,
    /// What happens to the session, ending with `Closed`.
    pub events: Events,
}

/// The WebRTC transport: a handle on the UDP socket's driver.
pub struct Rtc {
    tx: mpsc::Sender<Cmd>,
    local: SocketAddr,
    announced: SocketAddr,
    clock: Clock,
    sessions: Arc<Mutex<HashSet<SessionId>>>,
    crypto: Arc<CryptoProvider>,
    cert: DtlsCert,
    config: RtcConfig,
}

impl Rtc {
    /// Bind the UDP socket and start the driver, which runs until
    /// `shutdown` is cancelled.
    pub async fn start(
        config: &RtcConfig,
        http_addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>> {
        let socket = net::bind(config, http_addr)?;
        let local = socket.local_addr()?;
        let announced = SocketAddr::new(net::announced_ip(config, local.ip()), local.port());
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let cert = crypto
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| Error::internal("WebRTC: cannot make a DTLS certificate"))?;
        let socket = tokio::net::UdpSocket::from_std(socket)?;
        let (tx, rx) = mpsc::channel(4096);
        let sessions = Arc::new(Mutex::new(HashSet::new()));
        let clock = Clock::new();
        let drv = driver::Driver::new(socket, announced, clock, rx, sessions.clone());
        tokio::spawn(drv.run(shutdown));
        tracing::info!("WebRTC on udp {local}, announced as {announced}");
        Ok(Arc::new(Rtc {
            tx,
            local,
            announced,
            clock,
            sessions,
            crypto,
            cert,
            config: config.clone(),
        }))
    }

    /// Where the UDP socket is bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The address put in the host candidate of answers.
    pub fn announced_addr(&self) -> SocketAddr {
        self.announced
    }

    /// Sessions alive now.
    pub fn session_count(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Whether `id` is a live session.
    pub fn has_session(&self, id: &str) -> bool {
        self.sessions.lock().contains(id)
    }

    /// Open a session for an SDP offer with H.264 video flowing in `dir`.
    /// 400 for a bad offer, 503 when [`RtcConfig::max_sessions`] are open.
    pub async fn open(&self, offer_sdp: &str, dir: Direction) -> Result<Opened> {
        if self.session_count() >= self.config.max_sessions {
            return Err(Error::unavailable(
                "too many WebRTC sessions; try again later",
            ));
        }
        let offer = offer::parse_offer(offer_sdp, dir)?;
        let now = self.clock.now();
        let (rtc, answer) = self.answer(offer, now)?;
        let id = SessionId::random();
        let (events_tx, events) = events::channel();
        let timeout = Duration::from_millis(self.config.session_timeout_ms.max(1000));
        let session = session::Session::new(id.clone(), rtc, dir, events_tx, now, timeout);
        self.sessions.lock().insert(id.clone());
        if self.tx.send(Cmd::Open(Box::new(session))).await.is_err() {
            self.sessions.lock().remove(&id);
            return Err(shutting_down());
        }
        Ok(Opened { id, answer, events })
    }

    /// A str0m session for `offer`, and its SDP answer (H.264 only).
    fn answer(&self, offer: SdpOffer, now: std::time::Instant) -> Result<(str0m::Rtc, String)> {
        let mut rtc = str0m::Rtc::builder()
            .set_ice_lite(true)
            .set_crypto_provider(self.crypto.clone())
            .set_dtls_cert(self.cert.clone())
            .clear_codecs()
            .enable_h264(true)
            .build(now);
        let cand = Candidate::host(self.announced, "udp")
            .map_err(|e| Error::internal(format!("WebRTC candidate: {e}")))?;
        rtc.add_local_candidate(cand);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| Error::bad_request(format!("cannot accept the SDP offer: {e}")))?
            .to_sdp_string();
        if !offer::has_h264(&answer) {
            return Err(offer::no_h264());
        }
        Ok((rtc, answer))
    }

    /// Send one access unit to each of `sessions` (those that send video and
    /// are connected; others skip it). Every session is handed the same
    /// shared bytes. Waits only for room in the driver's command queue.
    pub async fn video(&self, sessions: Vec<SessionId>, au: Arc<AccessUnit>) -> Result<()> {
        self.command(Cmd::Video(sessions, au)).await
    }

    /// Send a message on `session`'s DataChannel (skipped when it has none
    /// open, or when the peer is too slow to take it).
    pub async fn data(&self, session: &SessionId, msg: Payload) -> Result<()> {
        self.command(Cmd::Data(session.clone(), msg)).await
    }

    /// Ask `session`'s peer (a publisher) for a keyframe with a PLI.
    pub async fn request_keyframe(&self, session: &SessionId) -> Result<()> {
        self.command(Cmd::KeyframeRequest(session.clone())).await
    }

    /// End session `id`; 404 if there is no such session. Its owner gets
    /// `Closed`.
    pub async fn close(&self, id: &str) -> Result<()> {
        let Some(id) = self.sessions.lock().take(id) else {
            return Err(Error::not_found(format!("no WebRTC session {id:?}")));
        };
        self.command(Cmd::Close(id)).await
    }

    async fn command(&self, cmd: Cmd) -> Result<()> {
        self.tx.send(cmd).await.map_err(|_| shutting_down())
    }
}

fn shutting_down() -> Error {
    Error::new(ErrorKind::Closed, "WebRTC is shutting down")
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn config_keys() {
        let cfg: RtcConfig = toml::from_str(
            "udp_port = 9000\npublic_ip = \"192.0.2.5\"\nsession_timeout_ms = 5000\n",
        )
        .unwrap();
        assert_eq!(cfg.udp_port, Some(9000));
        assert_eq!(cfg.public_ip, Some("192.0.2.5".parse().unwrap()));
        assert_eq!(cfg.max_sessions, 500);
        assert!(toml::from_str::<RtcConfig>("udp_prot = 1\n").is_err());
    }
}
