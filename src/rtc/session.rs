//! One WebRTC playback session: a `str0m::Rtc` plus what it sends.
//!
//! Sans-IO: nothing here touches a socket or reads the clock; the driver
//! passes `now` in and sends what [`Session::poll`] returns.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::Transmit;
use str0m::{Event, IceConnectionState, Input, Output};

use crate::media::AccessUnit;
use crate::rendition::h264::Rendition;
use crate::stream::{Stream, ViewerGuard};

/// A session's id: 16 random hex digits, used in the WHEP resource URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn random() -> Self {
        SessionId(format!("{:016x}", rand::random::<u64>()))
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

/// What a session wants from the driver after an input.
#[derive(Debug, Default)]
pub(crate) struct Wants {
    /// ICE+DTLS just came up: start feeding media.
    pub start_media: bool,
    /// The viewer lost pictures (PLI/FIR).
    pub keyframe: bool,
}

/// One viewer's WebRTC session.
pub(crate) struct Session {
    pub id: SessionId,
    rtc: str0m::Rtc,
    pub stream: Arc<Stream>,
    pub rendition: Arc<Rendition>,
    video: Option<Mid>,
    pt: Option<Pt>,
    channel: Option<ChannelId>,
    last_rx: Instant,
    timeout: Duration,
    pub next_wake: Instant,
    /// Media feeder; cancelled when the session ends.
    pub feeder: Option<tokio_util::sync::CancellationToken>,
    _viewer: ViewerGuard,
}

impl Session {
    pub fn new(
        id: SessionId,
        rtc: str0m::Rtc,
        stream: Arc<Stream>,
        rendition: Arc<Rendition>,
        viewer: ViewerGuard,
        now: Instant,
        timeout: Duration,
    ) -> Self {
        Session {
            id,
            rtc,
            stream,
            rendition,
            video: None,
            pt: None,
            channel: None,
            last_rx: now,
            timeout,
            next_wake: now,
            feeder: None,
            _viewer: viewer,
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
    pub fn input(&mut self, input: Input, received: bool) {
        if let Input::Receive(t, _) = &input {
            if received {
                self.last_rx = *t;
            }
        }
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!("WebRTC session {} failed: {e}", self.id);
            self.rtc.disconnect();
        }
    }

    /// Send one access unit on the video track (dropped before connection).
    pub fn write_video(&mut self, au: &AccessUnit, now: Instant) {
        let (Some(mid), Some(pt)) = (self.video, self.pt) else {
            return;
        };
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let rtp_time = MediaTime::new(au.pts.as_micros() as u64 * 9 / 100, Frequency::NINETY_KHZ);
        if let Err(e) = writer.write(pt, now, rtp_time, au.data.to_vec()) {
            tracing::debug!("WebRTC session {}: write failed: {e}", self.id);
            return;
        }
        self.stream
            .stats
            .bytes_out
            .fetch_add(au.data.len() as u64, Relaxed);
    }

    /// Send a metadata text message on the DataChannel, if one is open.
    pub fn write_metadata(&mut self, text: &str) {
        let Some(id) = self.channel else { return };
        if let Some(mut ch) = self.rtc.channel(id) {
            // `false` means the channel's buffer is full: the viewer is
            // slow, and this message is skipped like a lagging WebSocket's.
            let _ = ch.write(false, text.as_bytes());
        }
    }

    /// Drain output: datagrams go to `send`; returns the next wake-up time
    /// and what the driver should do for this session.
    pub fn poll(&mut self, send: &mut impl FnMut(Transmit)) -> Wants {
        let mut wants = Wants::default();
        loop {
            if !self.rtc.is_alive() {
                return wants;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_wake = t;
                    return wants;
                }
                Ok(Output::Transmit(t)) => send(t),
                Ok(Output::Event(e)) => self.event(e, &mut wants),
                Err(e) => {
                    tracing::debug!("WebRTC session {} failed: {e}", self.id);
                    self.rtc.disconnect();
                    return wants;
                }
            }
        }
    }

    fn event(&mut self, e: Event, wants: &mut Wants) {
        match e {
            Event::Connected => wants.start_media = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.rtc.disconnect();
            }
            Event::MediaAdded(m) if m.kind == MediaKind::Video && self.video.is_none() => {
                self.video = Some(m.mid);
                self.pt = self.pick_pt(m.mid);
            }
            Event::ChannelOpen(id, _label) => self.channel = Some(id),
            Event::ChannelClose(id) if self.channel == Some(id) => self.channel = None,
            Event::KeyframeRequest(_) => wants.keyframe = true,
            _ => {}
        }
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

    /// End the session now.
    pub fn disconnect(&mut self) {
        self.rtc.disconnect();
    }
}
