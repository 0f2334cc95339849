//! One WebRTC session, either way: a `str0m::Rtc`, its video track and
//! DataChannel, and the queue its [`SessionEvent`]s go to.
//!
//! Sans-IO: nothing here touches a socket or reads the clock. The driver
//! passes `now` (str0m's `std::time::Instant`) in, sends the datagrams
//! [`Session::poll`] hands out, and the session reports what happened to
//! its owner through its event queue, which never blocks.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid, Pt};
use str0m::net::Transmit;
use str0m::{Event, IceConnectionState, Input, Output};

use super::events::{EventTx, Payload, SessionEvent};
use super::inbound::Inbound;
use super::{AccessUnit, Direction};

/// A session's id: 16 random hex digits, used in resource URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn random() -> Self {
        SessionId(format!("{:016x}", rand::random::<u64>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One peer's WebRTC session.
pub(crate) struct Session {
    pub id: SessionId,
    rtc: str0m::Rtc,
    dir: Direction,
    events: EventTx,
    video: Option<Mid>,
    pt: Option<Pt>,
    channel: Option<ChannelId>,
    inbound: Inbound,
    last_rx: Instant,
    timeout: Duration,
    /// When str0m next wants a timeout input.
    pub next_wake: Instant,
}

impl Session {
    pub fn new(
        id: SessionId,
        rtc: str0m::Rtc,
        dir: Direction,
        events: EventTx,
        now: Instant,
        timeout: Duration,
    ) -> Self {
        Session {
            id,
            rtc,
            dir,
            events,
            video: None,
            pt: None,
            channel: None,
            inbound: Inbound::default(),
            last_rx: now,
            timeout,
            next_wake: now,
        }
    }

    /// Whether the datagram in `input` is for this session.
    pub fn accepts(&self, input: &Input) -> bool {
        self.rtc.accepts(input)
    }

    /// Alive: not closed, not timed out.
    pub fn alive(&self, now: Instant) -> bool {
        self.rtc.is_alive() && now.saturating_duration_since(self.last_rx) < self.timeout
    }

    /// Feed a datagram or a timeout.
    pub fn input(&mut self, input: Input) {
        if let Input::Receive(t, _) = &input {
            self.last_rx = *t;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("WebRTC session {} failed: {e}", self.id);
            self.rtc.disconnect();
        }
    }

    /// Send one access unit on the video track: the shared bytes are handed
    /// to str0m as they are, not copied. False if it was not written
    /// (not connected yet, a receiving session, or refused by str0m).
    pub fn write_video(&mut self, au: &AccessUnit, now: Instant) -> bool {
        let (Some(mid), Some(pt)) = (self.video, self.pt) else {
            return false;
        };
        let Some(writer) = self.rtc.writer(mid) else {
            return false;
        };
        let rtp_time = MediaTime::new(au.pts.as_micros() as u64 * 9 / 100, Frequency::NINETY_KHZ);
        match writer.write(pt, now, rtp_time, au.data.clone()) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!("WebRTC session {}: write failed: {e}", self.id);
                false
            }
        }
    }

    /// Send a message on the DataChannel, if one is open. A full channel
    /// (a slow peer) skips the message, like a lagging WebSocket.
    pub fn write_data(&mut self, msg: &Payload) {
        let Some(id) = self.channel else { return };
        if let Some(mut ch) = self.rtc.channel(id) {
            let binary = matches!(msg, Payload::Binary(_));
            let _ = ch.write(binary, msg.as_bytes());
        }
    }

    /// Ask the peer for a keyframe (PLI): for a session that receives video.
    pub fn request_keyframe(&mut self) {
        let Some(mid) = self.video else { return };
        if let Some(mut writer) = self.rtc.writer(mid) {
            if let Err(e) = writer.request_keyframe(None, KeyframeRequestKind::Pli) {
                tracing::debug!("WebRTC session {}: no PLI: {e}", self.id);
            }
        }
    }

    /// Drain output: datagrams go to `send`, events to the owner.
    pub fn poll(&mut self, send: &mut impl FnMut(Transmit)) {
        while self.rtc.is_alive() {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_wake = t;
                    return;
                }
                Ok(Output::Transmit(t)) => send(t),
                Ok(Output::Event(e)) => self.event(e),
                Err(e) => {
                    tracing::debug!("WebRTC session {} failed: {e}", self.id);
                    self.rtc.disconnect();
                }
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Connected => self.events.send(SessionEvent::Connected),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
            }
            Event::MediaAdded(m) if m.kind == MediaKind::Video && self.video.is_none() => {
                self.video = Some(m.mid);
                if self.dir == Direction::SendOnly {
                    self.pt = self.pick_pt(m.mid);
                }
            }
            Event::MediaData(d) => self.media(d),
            Event::ChannelOpen(id, _label) => self.channel = Some(id),
            Event::ChannelClose(id) if self.channel == Some(id) => self.channel = None,
            Event::ChannelData(d) => self.events.send(SessionEvent::Data(payload(d))),
            Event::KeyframeRequest(_) => self.events.send(SessionEvent::KeyframeRequest),
            _ => {}
        }
    }

    fn media(&mut self, d: MediaData) {
        if Some(d.mid) != self.video || d.params.spec().codec != Codec::H264 {
            return;
        }
        let (au, contiguous) = self.inbound.access_unit(d);
        self.events.send(SessionEvent::Media { au, contiguous });
    }

    /// The negotiated H.264 payload type: packetization-mode 1 and
    /// constrained baseline (42e0xx) preferred.
    fn pick_pt(&mut self, mid: Mid) -> Option<Pt> {
        let writer = self.rtc.writer(mid)?;
        let score = |p: &str0m::format::PayloadParams| {
            let f = p.spec().format;
            let mode1 = f.packetization_mode == Some(1);
            let plid = f.profile_level_id.unwrap_or(0x42e01f);
            let cb = plid >> 16 == 0x42 && (plid >> 8) & 0x40 != 0;
            (mode1 as u8) * 2 + cb as u8
        };
        writer
            .payload_params()
            .filter(|p| p.spec().codec == Codec::H264)
            .max_by_key(|p| score(p))
            .map(|p| p.pt())
    }

    /// End the session now (its owner gets `Closed` when it is dropped).
    pub fn disconnect(&mut self) {
        self.rtc.disconnect();
    }
}

/// A received DataChannel message: text when sent as text and valid UTF-8.
fn payload(d: str0m::channel::ChannelData) -> Payload {
    if d.binary {
        return Payload::Binary(Arc::from(d.data));
    }
    match String::from_utf8(d.data) {
        Ok(text) => Payload::Text(text.into()),
        Err(e) => Payload::Binary(Arc::from(e.into_bytes())),
    }
}
