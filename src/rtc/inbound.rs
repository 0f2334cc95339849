//! Media from a peer (a WHIP publisher): str0m's depacketized frames turned
//! into [`AccessUnit`]s, with a keyframe flag and a pts from the RTP clock.

use std::time::Duration;

use str0m::format::CodecExtra;
use str0m::media::{Frequency, MediaData};

use super::AccessUnit;

/// One session's received H.264: where its RTP clock started, and a count.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    /// The 90 kHz time of the first access unit (pts 0).
    first: Option<u64>,
    /// Access units received so far (the next one's `seq`).
    count: u64,
}

impl Inbound {
    /// The access unit in `d`, and whether it follows the previous one with
    /// no loss. Size and publish time are unknown here (0): the H.264 is
    /// not parsed.
    pub fn access_unit(&mut self, d: MediaData) -> (AccessUnit, bool) {
        let ticks = d.time.rebase(Frequency::NINETY_KHZ).numer();
        let first = *self.first.get_or_insert(ticks);
        let keyframe = match d.codec_extra {
            CodecExtra::H264(e) => e.is_keyframe,
            _ => false,
        };
        let au = AccessUnit {
            data: d.data,
            keyframe,
            pts: Duration::from_micros(ticks.saturating_sub(first) * 100 / 9),
            seq: self.count,
            width: 0,
            height: 0,
            published_unix_us: 0,
        };
        self.count += 1;
        (au, d.contiguous)
    }
}
