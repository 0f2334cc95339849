//! A headless WebRTC viewer built on str0m: does WHEP against a framecast
//! server over real UDP and reports what it receives. Used by the tests and
//! by `framecast-bench webrtc` and `hls`.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// What the viewer saw.
#[derive(Debug)]
pub enum ClientEvent {
    /// ICE and DTLS are up.
    Connected,
    /// One depacketized H.264 access unit (Annex B).
    Video {
        /// The bytes.
        data: Vec<u8>,
        /// When it was complete.
        at: Instant,
    },
    /// A DataChannel text message.
    Metadata(String),
}

/// What to offer.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    /// Offer H.264 (else VP8 only).
    pub h264: bool,
    /// Create a "metadata" DataChannel.
    pub datachannel: bool,
    /// Also offer to receive audio (Opus), as many WHEP players do.
    pub audio: bool,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            h264: true,
            datachannel: true,
            audio: false,
        }
    }
}

/// A connected (or connecting) viewer.
pub struct RtcClient {
    /// The WHEP session URL path (`Location`).
    pub location: String,
    /// What it receives.
    pub events: mpsc::UnboundedReceiver<ClientEvent>,
    /// When the offer was posted.
    pub started: Instant,
    /// Notify to send a PLI (picture loss: please send a keyframe).
    pub pli: std::sync::Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RtcClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl HttpResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to `addr` (no keep-alive, Content-Length bodies).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect(addr).await?;
    let ctype = content_type
        .map(|c| format!("Content-Type: {c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Do WHEP for stream `id` on the server at `http` and start receiving.
/// `Err` carries the server's response when it is not 201.
pub async fn connect(http_addr: SocketAddr, id: &str, offer: Offer) -> Result<RtcClient, String> {
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_h264(offer.h264)
        .enable_vp8(!offer.h264)
        .enable_opus(offer.audio, false)
        .build(Instant::now());
    let cand = Candidate::host(local, "udp").map_err(|e| e.to_string())?;
    rtc.add_local_candidate(cand);
    let mut api = rtc.sdp_api();
    if offer.audio {
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    }
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    if offer.datachannel {
        api.add_channel("metadata".into());
    }
    let (sdp, pending) = api.apply().ok_or("no offer")?;
    let started = Instant::now();
    let path = format!("/streams/{id}/whep");
    let resp = http(
        http_addr,
        "POST",
        &path,
        Some("application/sdp"),
        &sdp.to_sdp_string(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if resp.status != 201 {
        return Err(format!("{} {}", resp.status, resp.body));
    }
    let location = resp.header("location").ok_or("no Location")?.to_string();
    let answer = SdpAnswer::from_sdp_string(&resp.body).map_err(|e| e.to_string())?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| e.to_string())?;
    let (tx, events) = mpsc::unbounded_channel();
    let pli = std::sync::Arc::new(tokio::sync::Notify::new());
    let task = tokio::spawn(run(rtc, socket, local, tx, pli.clone()));
    Ok(RtcClient {
        location,
        events,
        started,
        pli,
        task,
    })
}

async fn run(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    tx: mpsc::UnboundedSender<ClientEvent>,
    pli: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut buf = vec![0u8; 2048];
    let mut video_mid = None;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => {
                    let ev = match e {
                        Event::Connected => Some(ClientEvent::Connected),
                        Event::MediaData(d) => {
                            video_mid = Some(d.mid);
                            Some(ClientEvent::Video {
                                data: d.data.to_vec(),
                                at: Instant::now(),
                            })
                        }
                        Event::ChannelData(d) => Some(ClientEvent::Metadata(
                            String::from_utf8_lossy(&d.data).into_owned(),
                        )),
                        _ => None,
                    };
                    if let Some(ev) = ev {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                }
                Err(_) => return,
            }
        };
        let input = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => match buf[..n].try_into() {
                    Ok(contents) => Input::Receive(Instant::now(), Receive {
                        proto: Protocol::Udp, source, destination: local, contents,
                    }),
                    Err(_) => continue,
                },
                Err(_) => return,
            },
            _ = tokio::time::sleep_until(timeout.into()) => Input::Timeout(Instant::now()),
            _ = pli.notified() => {
                if let Some(mut w) = video_mid.and_then(|m| rtc.writer(m)) {
                    let _ = w.request_keyframe(None, str0m::media::KeyframeRequestKind::Pli);
                }
                continue;
            }
        };
        if rtc.handle_input(input).is_err() || !rtc.is_alive() {
            return;
        }
    }
}
