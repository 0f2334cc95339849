//! H.264 encoding with openh264: one encoder per stream, shared by WebRTC and HLS.
//!
//! [`H264Encoder`] turns frames of any [`crate::media::PixelFormat`] (or JPEG) into
//! constrained-baseline [`AccessUnit`]s in Annex B form. Every IDR carries
//! its SPS and PPS, so any keyframe is a place a new viewer can start.
//! Keyframes come every `keyframe_interval` of *frame time* (pts), and on
//! request. A change of picture size re-creates the encoder. The SPS
//! says which colours the picture is in ([`COLOURS`]), so browsers decode
//! with the matrix the picture was converted with.

use std::sync::Arc;
use std::time::Duration;

use openh264::encoder::{
    BitRate, ColorPrimaries, Complexity, Encoder, EncoderConfig, FrameRate, Profile,
    RateControlMode, TransferCharacteristics, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

use super::nal::{nal_types, nal_units};
use crate::error::{Error, Result};
use crate::media::colour::{copy_i420, packed_to_i420};
use crate::media::{AccessUnit, Frame, FrameData, PixelFormat};

/// The colour description every SPS carries: BT.601 limited-range YUV (the
/// matrix and range `packed_to_i420` converts with, and that pushed I420
/// frames are taken to be in) of sRGB pictures (BT.709 primaries, sRGB
/// transfer). Without it Chromium assumes BT.709 and shows green 0,192,0 as
/// 0,163,1.
pub const COLOURS: VuiConfig = VuiConfig::bt601()
    .color_primaries(ColorPrimaries::Bt709)
    .transfer_characteristics(TransferCharacteristics::Srgb);

/// What the encoder is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    /// Target bitrate in bits per second.
    pub bitrate: u32,
    /// An IDR at least this often (in frame time).
    pub keyframe_interval: Duration,
    /// Frames closer together than `1/max_fps` are skipped (0 = no limit).
    pub max_fps: f32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            bitrate: 2_500_000,
            keyframe_interval: Duration::from_secs(2),
            max_fps: 30.0,
        }
    }
}

/// The frame to encode and where it sits in the stream.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    /// The pixels.
    pub frame: &'a Frame,
    /// Presentation time.
    pub pts: Duration,
    /// The frame's stream sequence number.
    pub seq: u64,
    /// Publish time, µs since the Unix epoch.
    pub published_unix_us: u64,
}

struct Active {
    encoder: Encoder,
    width: u32,
    height: u32,
}

/// A stateful H.264 encoder with keyframe control and real-time pacing.
pub struct H264Encoder {
    settings: EncoderSettings,
    active: Option<Active>,
    yuv: Vec<u8>,
    last_idr_pts: Option<Duration>,
    /// Pacing: the pts the next frame is due at (at most `max_fps` on average).
    next_due: Option<Duration>,
    want_idr: bool,
    parameter_sets: Vec<u8>,
}

impl H264Encoder {
    /// An encoder that starts on the first frame it is given.
    pub fn new(settings: EncoderSettings) -> Self {
        H264Encoder {
            settings,
            active: None,
            yuv: Vec::new(),
            last_idr_pts: None,
            next_due: None,
            want_idr: true,
            parameter_sets: Vec::new(),
        }
    }

    /// Make the next encoded picture an IDR.
    pub fn request_keyframe(&mut self) {
        self.want_idr = true;
    }

    /// Encode one frame. `Ok(None)` when the frame was skipped (pacing, or
    /// the encoder chose to skip it); errors for frames it cannot encode.
    pub fn encode(&mut self, f: FrameRef<'_>) -> Result<Option<AccessUnit>> {
        if self.too_soon(f.pts) {
            return Ok(None);
        }
        let (w, h) = (f.frame.width() & !1, f.frame.height() & !1);
        if w < 16 || h < 16 {
            return Err(Error::bad_request(format!(
                "H.264: a {}x{} frame is too small to encode",
                f.frame.width(),
                f.frame.height()
            )));
        }
        self.ensure_encoder(w, h)?;
        to_i420(f.frame, w, h, &mut self.yuv)?;
        if self.keyframe_due(f.pts) {
            if let Some(a) = self.active.as_mut() {
                a.encoder.force_intra_frame();
            }
        }
        let data = self.run_encoder(w, h, f.pts)?;
        let Some((data, keyframe)) = data else {
            return Ok(None);
        };
        self.paced(f.pts);
        if keyframe {
            self.last_idr_pts = Some(f.pts);
            self.want_idr = false;
        }
        Ok(Some(AccessUnit {
            data,
            keyframe,
            pts: f.pts,
            seq: f.seq,
            width: w,
            height: h,
            published_unix_us: f.published_unix_us,
        }))
    }

    fn interval(&self) -> Option<Duration> {
        (self.settings.max_fps > 0.0).then(|| Duration::from_secs_f32(1.0 / self.settings.max_fps))
    }

    /// A frame is early when it comes more than half an interval before its
    /// slot: jittery input at the limit rate passes, faster input is thinned.
    fn too_soon(&self, pts: Duration) -> bool {
        match (self.interval(), self.next_due) {
            (Some(i), Some(due)) if !self.want_idr => pts + i / 2 < due,
            _ => false,
        }
    }

    fn paced(&mut self, pts: Duration) {
        if let Some(i) = self.interval() {
            let next = self.next_due.map_or(pts + i, |d| d + i);
            self.next_due = Some(next.max(pts + i / 2));
        }
    }

    fn keyframe_due(&self, pts: Duration) -> bool {
        self.want_idr
            || self
                .last_idr_pts
                .is_none_or(|t| pts < t || pts.saturating_sub(t) >= self.settings.keyframe_interval)
    }

    fn ensure_encoder(&mut self, w: u32, h: u32) -> Result<()> {
        if self
            .active
            .as_ref()
            .is_some_and(|a| a.width == w && a.height == h)
        {
            return Ok(());
        }
        let fps = if self.settings.max_fps > 0.0 {
            self.settings.max_fps
        } else {
            30.0
        };
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(self.settings.bitrate.max(50_000)))
            .max_frame_rate(FrameRate::from_hz(fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(true)
            .profile(Profile::Baseline)
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            .num_threads(1)
            .scene_change_detect(false)
            .background_detection(false)
            .vui(COLOURS);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::internal(format!("H.264 encoder: {e}")))?;
        self.active = Some(Active {
            encoder,
            width: w,
            height: h,
        });
        self.want_idr = true;
        self.parameter_sets.clear();
        Ok(())
    }

    /// Encode the I420 picture in `self.yuv`; `None` if the encoder skipped it.
    fn run_encoder(&mut self, w: u32, h: u32, pts: Duration) -> Result<Option<(Arc<[u8]>, bool)>> {
        let Some(active) = self.active.as_mut() else {
            return Err(Error::internal("H.264 encoder missing"));
        };
        let (wu, hu) = (w as usize, h as usize);
        let (y, uv) = self.yuv.split_at(wu * hu);
        let (u, v) = uv.split_at(wu * hu / 4);
        let src = YUVSlices::new((y, u, v), (wu, hu), (wu, wu / 2, wu / 2));
        let ts = openh264::Timestamp::from_millis(pts.as_millis() as u64);
        let stream = active
            .encoder
            .encode_at(&src, ts)
            .map_err(|e| Error::internal(format!("H.264 encode failed: {e}")))?;
        use openh264::encoder::FrameType;
        let keyframe = match stream.frame_type() {
            FrameType::IDR => true,
            FrameType::I | FrameType::P | FrameType::IPMixed => false,
            FrameType::Skip | FrameType::Invalid => return Ok(None),
        };
        let mut out = Vec::with_capacity(64 * 1024);
        stream.write_vec(&mut out);
        if out.is_empty() {
            return Ok(None);
        }
        if keyframe {
            self.ensure_parameter_sets(&mut out);
        }
        Ok(Some((Arc::from(out), keyframe)))
    }

    /// Every IDR must carry SPS and PPS: remember them, add them if missing.
    fn ensure_parameter_sets(&mut self, au: &mut Vec<u8>) {
        let has = |t: u8| nal_types(au).any(|n| n == t);
        if has(7) && has(8) {
            self.parameter_sets = nal_units(au)
                .filter(|n| matches!(n.first().map(|b| b & 0x1f), Some(7 | 8)))
                .flat_map(|n| [&[0, 0, 0, 1][..], n].concat())
                .collect();
        } else if !self.parameter_sets.is_empty() {
            let mut v = self.parameter_sets.clone();
            v.extend_from_slice(au);
            *au = v;
        }
    }
}

/// Convert `frame` to I420 of size `w`x`h` (its even-cropped size) into `out`.
fn to_i420(frame: &Frame, w: u32, h: u32, out: &mut Vec<u8>) -> Result<()> {
    let (wu, hu) = (w as usize, h as usize);
    out.resize(wu * hu * 3 / 2, 0);
    let src_w = frame.width() as usize;
    match frame.data() {
        FrameData::Raw {
            format: PixelFormat::I420,
            data,
        } => {
            copy_i420(data, src_w, frame.height() as usize, wu, hu, out);
            Ok(())
        }
        FrameData::Raw { format, data } if *format != PixelFormat::Gray8 => {
            let bpp = if *format == PixelFormat::Rgba { 4 } else { 3 };
            packed_to_i420(*format, data, (src_w * bpp) as u32, w, h, out)
        }
        _ => {
            let rgb = crate::codec::guard("JPEG", || crate::codec::image::rgb24(frame))?;
            packed_to_i420(PixelFormat::Rgb24, &rgb, (src_w * 3) as u32, w, h, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::decoder::Decoder;
    use openh264::formats::YUVSource;

    fn fref(frame: &Frame, i: u64) -> FrameRef<'_> {
        FrameRef {
            frame,
            pts: Duration::from_millis(i * 33),
            seq: i + 1,
            published_unix_us: 0,
        }
    }

    /// Decode `au` and return (width, height, centre RGB).
    pub(crate) fn decode_centre(dec: &mut Decoder, au: &[u8]) -> Option<(usize, usize, [u8; 3])> {
        let yuv = dec.decode(au).ok()??;
        let (w, h) = yuv.dimensions();
        let mut rgb = vec![0; w * h * 3];
        yuv.write_rgb8(&mut rgb);
        let c = ((h / 2) * w + w / 2) * 3;
        Some((w, h, [rgb[c], rgb[c + 1], rgb[c + 2]]))
    }

    #[test]
    fn encodes_decodable_pictures_of_the_right_colour() {
        let mut enc = H264Encoder::new(EncoderSettings::default());
        let mut dec = Decoder::new().unwrap();
        let frame = Frame::solid(320, 240, [200, 40, 60]).unwrap();
        let mut got = None;
        for i in 0..5 {
            let au = enc
                .encode(fref(&frame, i))
                .unwrap()
                .expect("an access unit");
            assert_eq!(au.keyframe, i == 0, "only the first picture is an IDR");
            if au.keyframe {
                let types: Vec<u8> = nal_types(&au.data).collect();
                assert!(
                    types.contains(&7) && types.contains(&8) && types.contains(&5),
                    "{types:?}"
                );
                let sps = nal_units(&au.data).find(|n| n[0] & 0x1f == 7).unwrap();
                assert_eq!(sps[1], 66, "baseline profile");
                assert!(
                    sps[2] & 0x40 != 0,
                    "constrained (constraint_set1): {:02x}",
                    sps[2]
                );
            }
            got = decode_centre(&mut dec, &au.data).or(got);
        }
        let (w, h, c) = got.expect("decoded a picture");
        assert_eq!((w, h), (320, 240));
        for (a, b) in c.iter().zip([200u8, 40, 60]) {
            assert!((*a as i32 - b as i32).abs() <= 12, "centre {c:?}");
        }
    }

    #[test]
    fn formats_and_size_change() {
        let mut enc = H264Encoder::new(EncoderSettings::default());
        let mut dec = Decoder::new().unwrap();
        let bgr = Frame::raw(64, 48, PixelFormat::Bgr24, [10u8, 200, 30].repeat(64 * 48)).unwrap();
        let au = enc.encode(fref(&bgr, 0)).unwrap().unwrap();
        let (_, _, c) = decode_centre(&mut dec, &au.data).unwrap();
        assert!(
            c[1] > 170 && c[0] < 60 && c[2] < 60,
            "BGR green came out {c:?}"
        );
        // Odd size, gray: cropped to even, and a new IDR with new SPS.
        let gray = Frame::raw(51, 37, PixelFormat::Gray8, vec![128; 51 * 37]).unwrap();
        let au = enc.encode(fref(&gray, 1)).unwrap().unwrap();
        assert!(au.keyframe);
        assert_eq!((au.width, au.height), (50, 36));
        let (w, h, _) = decode_centre(&mut dec, &au.data).unwrap();
        assert_eq!((w, h), (50, 36));
        let tiny = Frame::solid(4, 4, [0, 0, 0]).unwrap();
        assert!(enc.encode(fref(&tiny, 2)).is_err());
    }

    #[test]
    fn keyframes_on_request_and_interval_and_pacing() {
        let settings = EncoderSettings {
            keyframe_interval: Duration::from_millis(500),
            ..Default::default()
        };
        let mut enc = H264Encoder::new(settings);
        let frame = Frame::solid(64, 64, [1, 2, 3]).unwrap();
        let mut keys = vec![];
        for i in 0..40 {
            if i == 5 {
                enc.request_keyframe();
            }
            let au = enc.encode(fref(&frame, i)).unwrap().unwrap();
            if au.keyframe {
                keys.push(i);
            }
        }
        // 0, requested at 5, then every 500 ms of pts (~15 frames of 33 ms).
        assert_eq!(keys, vec![0, 5, 21, 37]);
    }

    #[test]
    fn pacing_passes_jittery_30fps_and_thins_60fps() {
        let frame = Frame::solid(64, 64, [1, 2, 3]).unwrap();
        let count = |pts_ms: &dyn Fn(u64) -> u64| {
            let mut enc = H264Encoder::new(EncoderSettings::default());
            (0..60)
                .filter(|&i| {
                    let f = FrameRef {
                        pts: Duration::from_millis(pts_ms(i)),
                        ..fref(&frame, i)
                    };
                    enc.encode(f).unwrap().is_some()
                })
                .count()
        };
        // 30 fps, every other frame 12 ms late: all pass.
        assert_eq!(count(&|i| i * 1000 / 30 + (i % 2) * 12), 60);
        // 60 fps: about half pass.
        let n = count(&|i| i * 1000 / 60);
        assert!((29..=31).contains(&n), "{n} of 60");
    }
}
