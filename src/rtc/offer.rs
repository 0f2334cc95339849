//! SDP offers: the checks made before str0m sees one, and the direction a
//! session's video flows in. Every refusal is a 400 that says what to change.

use str0m::change::SdpOffer;

use crate::error::{Error, Result};

/// Which way a session's video flows, seen from framecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// framecast sends video to the peer (a WHEP player).
    SendOnly,
    /// framecast receives video from the peer (a WHIP publisher).
    RecvOnly,
}

impl Direction {
    /// Whether an offered video direction (`a=sendonly` …, from the peer's
    /// side) lets video flow this way.
    fn accepts(self, offered: &str) -> bool {
        match self {
            Direction::SendOnly => matches!(offered, "recvonly" | "sendrecv"),
            Direction::RecvOnly => matches!(offered, "sendonly" | "sendrecv"),
        }
    }
}

/// Parse an offer and check it can be answered with H.264 video flowing in
/// direction `dir`.
pub(crate) fn parse_offer(sdp: &str, dir: Direction) -> Result<SdpOffer> {
    if !sdp.trim_start().starts_with("v=") {
        return Err(Error::bad_request(
            "malformed SDP offer: it must start with v=0",
        ));
    }
    let video = video_directions(sdp);
    if video.is_empty() {
        return Err(Error::bad_request(
            "SDP offer has no video m-line: add a video transceiver",
        ));
    }
    if !has_h264(sdp) {
        return Err(no_h264());
    }
    if !video.iter().any(|d| dir.accepts(d)) {
        return Err(wrong_direction(dir));
    }
    // str0m's parser is young: a panic on odd input must not take the
    // server down.
    let parse = std::panic::catch_unwind(|| SdpOffer::from_sdp_string(sdp));
    match parse {
        Ok(Ok(offer)) => Ok(offer),
        Ok(Err(e)) => Err(Error::bad_request(format!("malformed SDP offer: {e}"))),
        Err(_) => Err(Error::bad_request("malformed SDP offer: str0m rejected it")),
    }
}

/// The direction of each video m-line (`sendrecv` when not stated).
fn video_directions(sdp: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_video = false;
    for line in sdp.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            in_video = media.starts_with("video");
            if in_video {
                out.push("sendrecv");
            }
        } else if in_video {
            let attr = line.trim_end().strip_prefix("a=").unwrap_or("");
            if matches!(attr, "sendonly" | "recvonly" | "sendrecv" | "inactive") {
                if let Some(last) = out.last_mut() {
                    *last = attr;
                }
            }
        }
    }
    out
}

fn wrong_direction(dir: Direction) -> Error {
    Error::bad_request(match dir {
        Direction::SendOnly => {
            "the offer only sends video (a publisher's offer): this endpoint plays video; \
             publish over WHIP, or offer a recvonly video transceiver to watch"
        }
        Direction::RecvOnly => {
            "the offer only receives video (a player's offer): this endpoint takes video in; \
             watch over WHEP, or offer a sendonly video transceiver to publish"
        }
    })
}

pub(crate) fn no_h264() -> Error {
    Error::bad_request(
        "offer has no H.264 video: framecast speaks H.264 (packetization-mode=1); \
         offer a video m-line with H264/90000",
    )
}

/// Whether an SDP has an H.264 payload type.
pub(crate) fn has_h264(sdp: &str) -> bool {
    sdp.lines()
        .any(|l| l.starts_with("a=rtpmap:") && l.to_ascii_uppercase().contains(" H264/90000"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    const VIDEO: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
                         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n";

    #[test]
    fn offers_are_checked() {
        let e = parse_offer("hello", Direction::SendOnly).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        let vp8 = format!("{VIDEO}a=rtpmap:96 VP8/90000\r\n");
        let e = parse_offer(&vp8, Direction::SendOnly).unwrap_err();
        assert!(e.message().contains("H.264"), "{}", e.message());
        let audio = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
        let e = parse_offer(audio, Direction::RecvOnly).unwrap_err();
        assert!(e.message().contains("no video"), "{}", e.message());
    }

    #[test]
    fn the_video_direction_must_fit_the_session() {
        let publish = format!("{VIDEO}a=sendonly\r\na=rtpmap:96 H264/90000\r\n");
        let e = parse_offer(&publish, Direction::SendOnly).unwrap_err();
        assert!(e.message().contains("WHIP"), "{}", e.message());
        let play = format!("{VIDEO}a=recvonly\r\na=rtpmap:96 H264/90000\r\n");
        let e = parse_offer(&play, Direction::RecvOnly).unwrap_err();
        assert!(e.message().contains("WHEP"), "{}", e.message());
        assert_eq!(video_directions(&play), ["recvonly"]);
        assert_eq!(video_directions(VIDEO), ["sendrecv"]);
    }
}
