//! WebRTC transport (str0m): one UDP socket, many sessions; shared by WHEP and WHIP.
//!
//! str0m is sans-IO: each session is a `str0m::Rtc` state machine. One tokio
//! task, the [driver](driver), owns the UDP socket and every session: it
//! feeds them datagrams (demultiplexed with `Rtc::accepts`) and timeouts,
//! and sends what they output. Media reaches the driver from one small
//! feeder task per session that follows the stream's shared H.264
//! rendition; the driver never waits for a viewer, and a viewer that falls
//! behind skips to the next keyframe in the rendition.
//!
//! The server is ICE-lite with host candidates only: the address it
//! listens on, or the configured public address (`public_ip`).

mod driver;
mod session;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;
use str0m::change::SdpOffer;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::Candidate;
use tokio::sync::mpsc;

use crate::error::{Error, ErrorKind, Result};
use crate::rendition::h264::Renditions;
use crate::stream::Stream;

use driver::Cmd;
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
    pub public_ip: Option<IpAddr>,
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

/// The WebRTC transport: the UDP socket's driver and the live sessions.
pub struct Rtc {
    tx: mpsc::Sender<Cmd>,
    local: SocketAddr,
    announced: SocketAddr,
    sessions: Arc<Mutex<HashSet<SessionId>>>,
    h264: Arc<Renditions>,
    crypto: Arc<CryptoProvider>,
    cert: DtlsCert,
    config: RtcConfig,
}

impl Rtc {
    /// Bind the UDP socket and start the driver.
    pub async fn start(
        config: &RtcConfig,
        http_addr: SocketAddr,
        h264: Arc<Renditions>,
    ) -> Result<Arc<Self>> {
        let socket = bind(config, http_addr)?;
        let local = socket.local_addr()?;
        let announced = SocketAddr::new(announced_ip(config, local.ip()), local.port());
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let cert = crypto
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| Error::internal("WebRTC: cannot make a DTLS certificate"))?;
        let socket = tokio::net::UdpSocket::from_std(socket)?;
        let (tx, rx) = mpsc::channel(4096);
        let sessions = Arc::new(Mutex::new(HashSet::new()));
        let shutdown = h264.hub().shutdown_token();
        let drv = driver::Driver::new(socket, announced, rx, tx.clone(), sessions.clone());
        tokio::spawn(drv.run(shutdown));
        tracing::info!("WebRTC on udp {local}, announced as {announced}");
        Ok(Arc::new(Rtc {
            tx,
            local,
            announced,
            sessions,
            h264,
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

    /// Start a playback session of `stream` for an SDP offer; returns the
    /// session id and the SDP answer. The offer must have H.264 video.
    pub async fn play(&self, stream: &Arc<Stream>, offer_sdp: &str) -> Result<(SessionId, String)> {
        if self.session_count() >= self.config.max_sessions {
            return Err(Error::unavailable(
                "too many WebRTC sessions; try again later",
            ));
        }
        let offer = parse_offer(offer_sdp)?;
        let now = Instant::now();
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
            .map_err(|e| Error::bad_request(format!("cannot accept the SDP offer: {e}")))?;
        let answer = answer.to_sdp_string();
        if !has_h264(&answer) {
            return Err(no_h264());
        }
        let id = SessionId::random();
        let session = session::Session::new(
            id.clone(),
            rtc,
            stream.clone(),
            self.h264.get(stream),
            stream.viewer(crate::output::whep::KIND),
            now,
            Duration::from_millis(self.config.session_timeout_ms.max(1000)),
        );
        self.sessions.lock().insert(id.clone());
        if self.tx.send(Cmd::Add(Box::new(session))).await.is_err() {
            self.sessions.lock().remove(&id);
            return Err(Error::new(ErrorKind::Closed, "WebRTC is shutting down"));
        }
        Ok((id, answer))
    }

    /// End session `id`; 404 if there is no such session.
    pub async fn close(&self, id: &str) -> Result<()> {
        let Some(id) = self.sessions.lock().take(id) else {
            return Err(Error::not_found(format!("no WebRTC session {id:?}")));
        };
        let _ = self.tx.send(Cmd::Close(id)).await;
        Ok(())
    }
}

fn no_h264() -> Error {
    Error::bad_request(
        "offer has no H.264 video: framecast sends H.264 (packetization-mode=1); \
         offer a video m-line with H264/90000",
    )
}

/// Parse an offer and check it can be answered with H.264 video.
fn parse_offer(sdp: &str) -> Result<SdpOffer> {
    if !sdp.trim_start().starts_with("v=") {
        return Err(Error::bad_request(
            "malformed SDP offer: it must start with v=0",
        ));
    }
    if !sdp.lines().any(|l| l.starts_with("m=video")) {
        return Err(Error::bad_request(
            "SDP offer has no video m-line: add a recvonly video transceiver",
        ));
    }
    if !has_h264(sdp) {
        return Err(no_h264());
    }
    let offer = crate::codec::guard("SDP", || {
        SdpOffer::from_sdp_string(sdp)
            .map_err(|e| Error::bad_request(format!("malformed SDP offer: {e}")))
    })?;
    Ok(offer)
}

fn has_h264(sdp: &str) -> bool {
    sdp.lines()
        .any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_uppercase().contains(" H264/90000"))
}

/// Bind the UDP socket: the configured port, else next to HTTP's.
fn bind(config: &RtcConfig, http: SocketAddr) -> Result<StdUdpSocket> {
    let port = config.udp_port.unwrap_or(match http.port() {
        0 => 0,
        p => p.checked_add(1).unwrap_or(0),
    });
    let addr = SocketAddr::new(http.ip(), port);
    let socket = match StdUdpSocket::bind(addr) {
        Ok(s) => s,
        Err(e) if config.udp_port.is_none() && port != 0 => {
            tracing::warn!("WebRTC: udp {addr} is taken ({e}); using any free port");
            StdUdpSocket::bind(SocketAddr::new(http.ip(), 0))?
        }
        Err(e) => {
            return Err(Error::from(e).context(format!("cannot bind WebRTC udp {addr}")));
        }
    };
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The address peers should send to.
fn announced_ip(config: &RtcConfig, bound: IpAddr) -> IpAddr {
    if let Some(ip) = config.public_ip {
        return ip;
    }
    if !bound.is_unspecified() {
        return bound;
    }
    // Listening everywhere: announce the address of the default route
    // (found without sending anything), or loopback without a network.
    let probe = || -> Option<IpAddr> {
        let s = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
        Some(s.local_addr().ok()?.ip())
    };
    probe()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_checked() {
        assert_eq!(
            parse_offer("hello").unwrap_err().kind(),
            ErrorKind::BadRequest
        );
        let vp8 = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
                   a=rtpmap:96 VP8/90000\r\n";
        let e = parse_offer(vp8).unwrap_err();
        assert!(e.message().contains("H.264"), "{}", e.message());
    }

    #[test]
    fn port_defaults_next_to_http() {
        let cfg = RtcConfig::default();
        let s = bind(&cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(s.local_addr().unwrap().port(), 0);
        assert_eq!(
            announced_ip(&cfg, "127.0.0.1".parse().unwrap()),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        let public = RtcConfig {
            public_ip: Some("203.0.113.7".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            announced_ip(&public, "0.0.0.0".parse().unwrap()).to_string(),
            "203.0.113.7"
        );
    }

    #[test]
    fn config_keys() {
        let cfg = crate::server::config::Config::from_toml(
            "[webrtc]\nudp_port = 9000\npublic_ip = \"192.0.2.5\"\nsession_timeout_ms = 5000\n",
        )
        .unwrap();
        assert_eq!(cfg.webrtc.udp_port, Some(9000));
        assert_eq!(cfg.webrtc.public_ip, Some("192.0.2.5".parse().unwrap()));
        assert!(crate::server::config::Config::from_toml("[webrtc]\nudp_prot = 1\n").is_err());
    }
}
