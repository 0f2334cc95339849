//! H.264 decoding with openh264: Annex B access units in, I420 frames out.
//!
//! Sources that arrive encoded (WHIP, RTSP cameras, MP4 files) pass their
//! H.264 through to WebRTC and HLS untouched; they are decoded only for
//! outputs and processors that need pixels (JPEG viewers, analyzers). One
//! decoder per stream, run on a blocking thread by its caller.
//!
//! Live sources decode picture by picture. Files with B-frames need
//! `reorder`: the decoder then holds pictures back until their display
//! turn, and [`H264Decoder::flush`] returns the rest at the end (see
//! ../shared/research/ingest.md: without it openh264 fails on 293 of 300
//! frames of such a file).

use bytes::Bytes;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use crate::error::{Error, Result};
use crate::media::{Frame, PixelFormat};

/// A stateful H.264 decoder.
pub struct H264Decoder {
    decoder: Decoder,
}

impl H264Decoder {
    /// A decoder; `reorder` for streams with B-frames (pictures out of
    /// decode order), which then need [`H264Decoder::flush`] at the end.
    pub fn new(reorder: bool) -> Result<Self> {
        let flush = if reorder {
            Flush::NoFlush
        } else {
            Flush::Flush
        };
        let config = DecoderConfig::new().flush_after_decode(flush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::internal("cannot start the H.264 decoder").with_source(e))?;
        Ok(H264Decoder { decoder })
    }

    /// Decode one access unit (Annex B, with start codes). `Ok(None)` when
    /// no picture is ready yet (parameter sets only, or a picture held back
    /// for reordering); an error for a corrupt bitstream, after which the
    /// next keyframe decodes again.
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<Frame>> {
        let decoder = &mut self.decoder;
        crate::codec::guard("H.264", || match decoder.decode(annex_b) {
            Ok(Some(yuv)) => to_frame(&yuv).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::bad_request("corrupt H.264 bitstream").with_source(e)),
        })
    }

    /// The pictures still held back (end of a file, or a loop's seam).
    pub fn flush(&mut self) -> Result<Vec<Frame>> {
        let decoder = &mut self.decoder;
        crate::codec::guard("H.264", || {
            let held = decoder
                .flush_remaining()
                .map_err(|e| Error::bad_request("corrupt H.264 bitstream").with_source(e))?;
            held.iter().map(to_frame).collect()
        })
    }
}

/// Copy a decoded picture (planes with strides) into a packed I420 frame.
fn to_frame(yuv: &DecodedYUV<'_>) -> Result<Frame> {
    let (w, h) = yuv.dimensions();
    let (sy, su, sv) = yuv.strides();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(PixelFormat::I420.buffer_len(w as u32, h as u32));
    copy_plane(&mut out, yuv.y(), sy, w, h)?;
    copy_plane(&mut out, yuv.u(), su, cw, ch)?;
    copy_plane(&mut out, yuv.v(), sv, cw, ch)?;
    Frame::raw(w as u32, h as u32, PixelFormat::I420, Bytes::from(out))
}

fn copy_plane(out: &mut Vec<u8>, plane: &[u8], stride: usize, w: usize, h: usize) -> Result<()> {
    for row in 0..h {
        let line = plane
            .get(row * stride..row * stride + w)
            .ok_or_else(|| Error::internal("H.264 decoder gave a plane shorter than its size"))?;
        out.extend_from_slice(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::codec::h264::{EncoderSettings, FrameRef, H264Encoder};

    fn encode(frames: &[Frame]) -> Vec<Vec<u8>> {
        let mut enc = H264Encoder::new(EncoderSettings::default());
        frames
            .iter()
            .enumerate()
            .filter_map(|(i, frame)| {
                let f = FrameRef {
                    frame,
                    pts: Duration::from_millis(i as u64 * 33),
                    seq: i as u64 + 1,
                    published_unix_us: 0,
                };
                enc.encode(f).unwrap().map(|au| au.data.to_vec())
            })
            .collect()
    }

    #[test]
    fn decodes_what_the_encoder_made_with_its_colour_and_odd_size() {
        let frame = Frame::solid(322, 180, [200, 40, 60]).unwrap();
        let aus = encode(&[frame.clone(), frame.clone(), frame]);
        let mut dec = H264Decoder::new(false).unwrap();
        let mut got = Vec::new();
        for au in &aus {
            got.extend(dec.decode(au).unwrap());
        }
        got.extend(dec.flush().unwrap());
        assert_eq!(got.len(), 3, "every picture comes out");
        let f = &got[2];
        assert_eq!((f.width(), f.height()), (322, 180));
        let rgb = crate::codec::image::rgb24(f).unwrap();
        let c = &rgb[(90 * 322 + 161) * 3..][..3];
        for (a, b) in c.iter().zip([200u8, 40, 60]) {
            assert!((*a as i32 - b as i32).abs() <= 12, "centre {c:?}");
        }
    }

    #[test]
    fn garbage_is_an_error_or_nothing_never_a_panic() {
        let mut dec = H264Decoder::new(true).unwrap();
        for junk in [
            &b""[..],
            b"\x00\x00\x01",
            b"\x00\x00\x00\x01\x65\xff\xff\xff",
            b"hello",
        ] {
            if let Ok(Some(f)) = dec.decode(junk) {
                panic!("a picture from junk: {}x{}", f.width(), f.height());
            }
        }
        assert!(dec.flush().is_ok());
    }
}
