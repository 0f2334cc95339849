//! The sans-IO segmenter: H.264 access units in, fMP4 segments and LL-HLS
//! parts out. Time is injected (`now_us`, wall clock in µs) and only used
//! for `EXT-X-PROGRAM-DATE-TIME` and for stamping when things became ready.
//!
//! Rules:
//! - a segment starts with an IDR; it is cut at the first keyframe once it
//!   is at least 3/4 of the target long (and a keyframe is asked for when
//!   the target is reached without one);
//! - a part is closed as soon as its last frame arrives if one more frame
//!   would take it past the part target; that last frame's duration is
//!   estimated from the frame before, and the next frame's decode time
//!   absorbs the error, so the timeline never drifts;
//! - samples are timed from the access units' pts in 90 kHz ticks;
//! - pts going backwards or jumping ahead, or new parameter sets or size,
//!   end the segment and start a discontinuity (with a new init segment
//!   when the parameters changed).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::codec::h264::nal::{self, ParamSets};
use crate::media::AccessUnit;
use crate::mp4::fmp4::{self, Sample, TIMESCALE};

/// A gap in pts larger than this is treated as a restart.
const MAX_GAP_TICKS: u64 = 10 * TIMESCALE as u64;
/// pts going back more than this is a restart; less is jitter (clamped).
const MAX_BACK_TICKS: u64 = TIMESCALE as u64 / 2;
/// Duration assumed for a frame when there is nothing to estimate from (30 fps).
const DEFAULT_FRAME_TICKS: u64 = TIMESCALE as u64 / 30;
/// The smallest sample duration (1 ms).
const MIN_TICKS: u64 = TIMESCALE as u64 / 1000;

/// Segmenter settings.
#[derive(Debug, Clone)]
pub struct SegmenterConfig {
    /// Target segment duration.
    pub segment_target: Duration,
    /// Target part duration (LL-HLS).
    pub part_target: Duration,
    /// Complete segments listed in the playlist.
    pub window: usize,
    /// Complete segments kept fetchable after they leave the playlist.
    pub keep_after: usize,
    /// The first media sequence number and init generation. Segments are
    /// served as immutable, so the server starts these from the wall clock
    /// ([`first_number_now`]) and a restarted stream never reuses a name.
    pub first_number: u64,
}

/// Tenths of a second since the Unix epoch: a segment takes longer than
/// that, so numbers that start here never repeat across restarts.
pub fn first_number_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64 / 100)
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        SegmenterConfig {
            segment_target: Duration::from_secs(2),
            part_target: Duration::from_millis(200),
            window: 6,
            keep_after: 2,
            first_number: 0,
        }
    }
}

/// Convert a duration to 90 kHz ticks.
pub fn ticks(d: Duration) -> u64 {
    ((d.as_nanos() * TIMESCALE as u128 + 500_000_000) / 1_000_000_000) as u64
}

/// Convert 90 kHz ticks to seconds.
pub fn seconds(t: u64) -> f64 {
    t as f64 / TIMESCALE as f64
}

/// An init segment and what it was made from.
#[derive(Debug)]
pub struct Init {
    /// Its number: the `n` of `init-{n}.mp4`.
    pub generation: u64,
    /// ftyp + moov.
    pub data: Bytes,
    /// The SPS/PPS in its avcC.
    pub params: ParamSets,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
}

/// A partial segment: one moof + mdat.
#[derive(Debug)]
pub struct Part {
    /// Duration in 90 kHz ticks.
    pub duration: u64,
    /// Starts with an IDR.
    pub independent: bool,
    /// Frames in it.
    pub frames: u32,
    /// moof + mdat.
    pub data: Bytes,
    /// When it became fetchable (injected clock, µs).
    pub ready_us: u64,
    /// When its last frame was published (µs; the injected clock when unknown).
    pub last_frame_us: u64,
}

/// A media segment: its parts, in order. Complete once cut.
#[derive(Debug)]
pub struct Segment {
    /// Media sequence number.
    pub msn: u64,
    /// The init segment it needs.
    pub init: Arc<Init>,
    /// Starts a discontinuity.
    pub discontinuity: bool,
    /// Its discontinuity sequence number.
    pub disc_seq: u64,
    /// Wall-clock time of its first frame (µs since the Unix epoch).
    pub start_unix_us: u64,
    /// Its parts.
    pub parts: Vec<Arc<Part>>,
    /// Cut: no more parts will come.
    pub complete: bool,
    /// When it was cut (injected clock, µs); 0 while open.
    pub ready_us: u64,
}

impl Segment {
    /// Duration in 90 kHz ticks.
    pub fn duration(&self) -> u64 {
        self.parts.iter().map(|p| p.duration).sum()
    }

    /// Frames in it.
    pub fn frames(&self) -> u32 {
        self.parts.iter().map(|p| p.frames).sum()
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.data.len()).sum()
    }

    /// Has no parts.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// When its last frame arrived (µs), 0 when empty.
    pub fn last_frame_us(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.last_frame_us)
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushed {
    /// A part or segment was added (waiters should look again).
    pub changed: bool,
    /// The encoder should make the next picture an IDR.
    pub want_keyframe: bool,
}

/// Whether a blocking playlist reload can be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The playlist has what was asked for.
    Ready,
    /// Not yet: wait.
    Wait,
    /// Further ahead than a server must wait for (400).
    TooFar,
}

/// Whether a part or segment can be served.
#[derive(Debug, Clone)]
pub enum Lookup<T> {
    /// Here it is.
    Ready(T),
    /// It is about to exist: wait.
    Wait,
    /// It does not exist and will not (404).
    Gone,
}

struct Pending {
    dts: u64,
    data: Bytes,
    keyframe: bool,
}

#[derive(Clone, Copy)]
struct Timing {
    prev_pts: u64,
    prev_dts: u64,
    /// The shortest of the last few real pts deltas, used to estimate a
    /// closing frame's duration: under-estimating costs nothing (the next
    /// frame's duration absorbs it), over-estimating would squeeze frames.
    delta: u64,
    recent: [u64; 8],
    /// Set when the previous frame's duration was fixed by closing its part.
    fixed_end: Option<u64>,
}

/// Turns access units into segments and parts. See the module docs.
pub struct Segmenter {
    cfg: SegmenterConfig,
    done: VecDeque<Segment>,
    open: Option<Segment>,
    pending: Vec<Pending>,
    pending_last_us: u64,
    seg_start: u64,
    timing: Option<Timing>,
    init: Option<Arc<Init>>,
    next_init: u64,
    next_msn: u64,
    disc_seq: u64,
    discontinuity_next: bool,
    started: bool,
    fragment_seq: u32,
    anchor_us: i64,
    keyframe_asked: bool,
    version: u64,
}

impl Segmenter {
    /// An empty segmenter.
    pub fn new(cfg: SegmenterConfig) -> Self {
        let first = cfg.first_number;
        Segmenter {
            cfg,
            done: VecDeque::new(),
            open: None,
            pending: Vec::new(),
            pending_last_us: 0,
            seg_start: 0,
            timing: None,
            init: None,
            next_init: first,
            next_msn: first,
            disc_seq: 0,
            discontinuity_next: false,
            started: false,
            fragment_seq: 1,
            anchor_us: 0,
            keyframe_asked: false,
            version: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SegmenterConfig {
        &self.cfg
    }

    /// Bumped on every change; waiters compare it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Feed one access unit that arrived at `now_us`.
    pub fn push(&mut self, au: &AccessUnit, now_us: u64) -> Pushed {
        let before = self.version;
        if !nal::has_picture(&au.data) {
            // No picture in it (an encoder's skipped frame): nothing to store.
            return Pushed::default();
        }
        let pts = ticks(au.pts);
        let params = if au.keyframe {
            ParamSets::find(&au.data)
        } else {
            None
        };
        let (timing_break, format_break) = self.breaks(au, pts, params.as_ref());
        if timing_break || format_break {
            self.finish(now_us);
            self.timing = None;
            self.discontinuity_next = true;
            if format_break {
                self.init = None;
            }
        }
        let mut dts = self.next_dts(pts);
        let mut want_keyframe = false;
        // A keyframe always starts a part (INDEPENDENT=YES); so does a frame
        // that would take the open part past its target.
        let start = self.pending.first().map(|p| p.dts);
        if au.keyframe
            || start.is_some_and(|s| {
                dts + self.estimate() > s + ticks(self.cfg.part_target) + MIN_TICKS
            })
        {
            dts = self.close_before(dts, now_us);
        }
        let cut = au.keyframe
            && self.open.is_some()
            && dts.saturating_sub(self.seg_start) * 4 >= ticks(self.cfg.segment_target) * 3;
        if cut {
            self.close_segment(now_us);
        }
        if self.open.is_none() && !self.start_segment(au, params, dts, now_us) {
            return Pushed {
                changed: self.version != before,
                want_keyframe: true,
            };
        }
        self.add_sample(au, pts, dts, now_us);
        if !self.keyframe_asked
            && (dts + self.estimate()).saturating_sub(self.seg_start)
                >= ticks(self.cfg.segment_target)
        {
            self.keyframe_asked = true;
            want_keyframe = true;
        }
        Pushed {
            changed: self.version != before,
            want_keyframe,
        }
    }

    /// Drop every segment (the HLS session ended). Numbers keep counting,
    /// so URLs are never reused, and the next segment starts a discontinuity.
    pub fn reset(&mut self) {
        if self.open.take().is_some() {
            // Its parts may have been served: never reuse its number.
            self.next_msn += 1;
        }
        self.done.clear();
        self.open = None;
        self.pending.clear();
        self.timing = None;
        self.init = None;
        self.discontinuity_next = true;
        self.keyframe_asked = false;
        self.version += 1;
    }

    /// (timing break, format break) for this access unit.
    fn breaks(&self, au: &AccessUnit, pts: u64, params: Option<&ParamSets>) -> (bool, bool) {
        let timing_break = self
            .timing
            .is_some_and(|t| pts + MAX_BACK_TICKS < t.prev_pts || pts > t.prev_pts + MAX_GAP_TICKS);
        let format_break = au.keyframe
            && self.init.as_ref().is_some_and(|i| {
                i.width != au.width
                    || i.height != au.height
                    || params.is_some_and(|p| *p != i.params)
            });
        let running = self.open.is_some() || self.timing.is_some();
        (running && timing_break, running && format_break)
    }

    /// The decode time of a frame with this pts: the end of the previous
    /// frame when that was fixed by an estimate, else the pts (always after
    /// the previous frame).
    fn next_dts(&self, pts: u64) -> u64 {
        match self.timing {
            None => pts,
            Some(t) => t.fixed_end.unwrap_or(pts).max(t.prev_dts + MIN_TICKS),
        }
    }

    fn estimate(&self) -> u64 {
        self.timing
            .map_or(DEFAULT_FRAME_TICKS, |t| t.delta)
            .clamp(MIN_TICKS, TIMESCALE as u64)
    }

    /// Open a segment with this access unit; false when it cannot start one.
    fn start_segment(
        &mut self,
        au: &AccessUnit,
        params: Option<ParamSets>,
        dts: u64,
        now_us: u64,
    ) -> bool {
        if !au.keyframe {
            return false;
        }
        if self.init.is_none() {
            let Some(params) = params else { return false };
            let Ok(data) = fmp4::init_segment(&params, au.width, au.height) else {
                tracing::warn!("HLS: could not build an init segment from the stream's SPS/PPS");
                return false;
            };
            self.init = Some(Arc::new(Init {
                generation: self.next_init,
                data,
                params,
                width: au.width,
                height: au.height,
            }));
            self.next_init += 1;
        }
        let Some(init) = self.init.clone() else {
            return false;
        };
        if self.timing.is_none() {
            self.anchor_us = now_us as i64 - (dts as i64 * 1_000_000 / TIMESCALE as i64);
        }
        let discontinuity = self.discontinuity_next && self.started;
        if discontinuity {
            self.disc_seq += 1;
        }
        self.discontinuity_next = false;
        self.started = true;
        self.keyframe_asked = false;
        self.seg_start = dts;
        let start = self.anchor_us + dts as i64 * 1_000_000 / TIMESCALE as i64;
        self.open = Some(Segment {
            msn: self.next_msn,
            init,
            discontinuity,
            disc_seq: self.disc_seq,
            start_unix_us: start.max(0) as u64,
            parts: Vec::new(),
            complete: false,
            ready_us: 0,
        });
        self.version += 1;
        true
    }

    fn add_sample(&mut self, au: &AccessUnit, pts: u64, dts: u64, now_us: u64) {
        let mut recent = self.timing.map_or([0; 8], |t| t.recent);
        if let Some(t) = self.timing {
            recent.rotate_right(1);
            recent[0] = pts.saturating_sub(t.prev_pts);
        }
        let delta = recent
            .iter()
            .copied()
            .filter(|d| *d > 0)
            .min()
            .unwrap_or(DEFAULT_FRAME_TICKS);
        self.pending.push(Pending {
            dts,
            data: nal::to_length_prefixed(&au.data),
            keyframe: au.keyframe,
        });
        // The frame's publish time when the encoder passed it on, so
        // latency is counted from the frame's arrival in framecast.
        self.pending_last_us = match au.published_unix_us {
            0 => now_us,
            t => t,
        };
        self.timing = Some(Timing {
            prev_pts: pts,
            prev_dts: dts,
            delta,
            recent,
            fixed_end: None,
        });
        let est = self.estimate();
        let start = self.pending.first().map_or(dts, |p| p.dts);
        // Close now if one more frame would take the part past its target.
        let target = ticks(self.cfg.part_target);
        if dts + 2 * est - start > target + MIN_TICKS {
            // The estimate may have grown since the frame was let in: the
            // part still ends by its target.
            let last = est.min((start + target).saturating_sub(dts)).max(MIN_TICKS);
            self.close_part(last, now_us);
            if let Some(t) = self.timing.as_mut() {
                t.fixed_end = Some(dts + last);
            }
        }
    }

    /// Close the open part before a frame due at `dts`, keeping the part
    /// within its target: when the gap is longer (a skipped frame), the
    /// next frame is pulled earlier and the one after absorbs the
    /// difference. Returns the next frame's decode time.
    fn close_before(&mut self, dts: u64, now_us: u64) -> u64 {
        let (Some(first), Some(last)) = (self.pending.first(), self.pending.last()) else {
            return dts;
        };
        let end = dts
            .min(first.dts + ticks(self.cfg.part_target))
            .max(last.dts + MIN_TICKS);
        let last_dts = last.dts;
        self.close_part(end - last_dts, now_us);
        if let Some(t) = self.timing.as_mut() {
            t.prev_dts = t.prev_dts.min(end - MIN_TICKS);
        }
        end
    }

    /// Close the open part; `last` is its last frame's duration.
    fn close_part(&mut self, last: u64, now_us: u64) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let samples: Vec<Sample> = pending
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let d = match pending.get(i + 1) {
                    Some(n) => n.dts - p.dts,
                    None => last.max(MIN_TICKS),
                };
                Sample {
                    data: p.data.clone(),
                    duration: d.min(u32::MAX as u64) as u32,
                    keyframe: p.keyframe,
                }
            })
            .collect();
        let data = match fmp4::fragment(self.fragment_seq, pending[0].dts, &samples) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("HLS: {e}");
                return;
            }
        };
        self.fragment_seq = self.fragment_seq.wrapping_add(1);
        let part = Part {
            duration: samples.iter().map(|s| s.duration as u64).sum(),
            independent: pending[0].keyframe,
            frames: samples.len() as u32,
            data,
            ready_us: now_us,
            last_frame_us: self.pending_last_us,
        };
        if let Some(open) = self.open.as_mut() {
            open.parts.push(Arc::new(part));
            self.version += 1;
        }
    }

    fn close_segment(&mut self, now_us: u64) {
        let Some(mut seg) = self.open.take() else {
            return;
        };
        if seg.parts.is_empty() {
            return;
        }
        seg.complete = true;
        seg.ready_us = now_us;
        self.done.push_back(seg);
        self.next_msn += 1;
        while self.done.len() > self.cfg.window + self.cfg.keep_after {
            self.done.pop_front();
        }
        self.version += 1;
    }

    /// End the open part and segment with an estimated last duration.
    fn finish(&mut self, now_us: u64) {
        let est = self.estimate();
        if let Some(last) = self.pending.last().map(|p| p.dts) {
            self.close_before(last + est, now_us);
        }
        self.close_segment(now_us);
    }

    // ---- queries -------------------------------------------------------

    /// Complete segments still stored (listed or kept), oldest first.
    pub fn stored(&self) -> impl Iterator<Item = &Segment> {
        self.done.iter()
    }

    /// The complete segments the playlist lists, oldest first.
    pub fn listed(&self) -> impl Iterator<Item = &Segment> {
        let skip = self.done.len().saturating_sub(self.cfg.window);
        self.done.iter().skip(skip)
    }

    /// The segment being filled, if any.
    pub fn open(&self) -> Option<&Segment> {
        self.open.as_ref()
    }

    /// True once a complete segment exists.
    pub fn has_segment(&self) -> bool {
        !self.done.is_empty()
    }

    /// The msn of the segment being filled (or that will be filled next).
    pub fn open_msn(&self) -> u64 {
        self.next_msn
    }

    /// The part the playlist hints at: (msn, part index).
    pub fn preload_hint(&self) -> (u64, usize) {
        (
            self.next_msn,
            self.open.as_ref().map_or(0, |s| s.parts.len()),
        )
    }

    /// The init segment number `generation`, or the current one for `None`.
    pub fn init(&self, generation: Option<u64>) -> Option<Arc<Init>> {
        let mut all = self
            .done
            .iter()
            .chain(self.open.iter())
            .map(|s| &s.init)
            .chain(self.init.iter());
        match generation {
            None => self.init.clone(),
            Some(g) => all.find(|i| i.generation == g).cloned(),
        }
    }

    /// A complete segment by msn.
    pub fn segment(&self, msn: u64) -> Lookup<&Segment> {
        if let Some(s) = self.done.iter().find(|s| s.msn == msn) {
            return Lookup::Ready(s);
        }
        if msn == self.next_msn && self.started {
            Lookup::Wait
        } else {
            Lookup::Gone
        }
    }

    /// Part `index` of segment `msn`.
    pub fn part(&self, msn: u64, index: usize) -> Lookup<Arc<Part>> {
        let seg = self
            .done
            .iter()
            .chain(self.open.iter())
            .find(|s| s.msn == msn);
        if let Some(p) = seg.and_then(|s| s.parts.get(index)) {
            return Lookup::Ready(p.clone());
        }
        let (hint_msn, hint_part) = self.preload_hint();
        let soon = (msn == hint_msn && index >= hint_part && index < hint_part + ADVANCE_PARTS)
            || (msn == hint_msn + 1 && index < ADVANCE_PARTS);
        if soon && self.started {
            Lookup::Wait
        } else {
            Lookup::Gone
        }
    }

    /// Can a blocking reload for `_HLS_msn=msn` (`_HLS_part=part`) be answered?
    pub fn reload(&self, msn: u64, part: Option<usize>) -> Reload {
        let open = self.next_msn;
        if msn > open + 2 {
            return Reload::TooFar;
        }
        match part {
            None if self.done.back().is_some_and(|s| s.msn >= msn) => Reload::Ready,
            None => Reload::Wait,
            Some(_) if msn < open && self.has_segment() => Reload::Ready,
            Some(p) if msn == open => {
                let have = self.open.as_ref().map_or(0, |s| s.parts.len());
                if p < have {
                    Reload::Ready
                } else if p >= have + ADVANCE_PARTS {
                    Reload::TooFar
                } else {
                    Reload::Wait
                }
            }
            Some(_) => Reload::Wait,
        }
    }
}

/// How many parts ahead of the last one a client may ask for (RFC 8216bis
/// "Advance Part Limit" for part targets under one second).
pub const ADVANCE_PARTS: usize = 3;

#[cfg(test)]
#[path = "segmenter_tests.rs"]
mod tests;
