//! JPEG encoders. With the default `mozjpeg` feature and `nasm` present at
//! build time, frames are encoded by mozjpeg (libjpeg-turbo's SIMD code,
//! built from vendored C by cargo) with its fastest profile: about 1.8 ms
//! for a 720p frame here. Otherwise by the pure-Rust `jpeg-encoder` (about
//! 6 ms), because mozjpeg without its assembly is slower still (about 14 ms).
//! See docs/design/0004-jpeg-encoder.md.

use bytes::Bytes;

use crate::error::{Error, Result};

/// Pixel layouts the encoders take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Packed R, G, B.
    Rgb,
    /// Packed B, G, R.
    Bgr,
    /// Packed R, G, B, A (alpha ignored).
    Rgba,
    /// One luma byte per pixel.
    Gray,
}

/// Whether this build encodes with mozjpeg (the feature is on and its SIMD
/// assembly was built).
pub const USES_MOZJPEG: bool =
    cfg!(feature = "mozjpeg") && matches!(env!("FRAMECAST_BUILT_WITH_NASM").as_bytes(), b"1");

/// Which encoder this build uses, for logs and the bench.
pub fn encoder_name() -> &'static str {
    match (USES_MOZJPEG, cfg!(feature = "mozjpeg")) {
        (true, _) => "mozjpeg (SIMD)",
        (false, true) => "jpeg-encoder (built without nasm, so mozjpeg would be slower)",
        (false, false) => "jpeg-encoder (mozjpeg feature off)",
    }
}

/// Encode `px` (`w` x `h` in `layout`) at `quality`, 4:2:0.
pub fn encode(px: &[u8], w: u32, h: u32, layout: Layout, quality: u8) -> Result<Bytes> {
    if w > u16::MAX as u32 || h > u16::MAX as u32 {
        return Err(Error::bad_request("frame too large for JPEG"));
    }
    let quality = quality.clamp(1, 100);
    super::guard("JPEG encoder", || {
        #[cfg(feature = "mozjpeg")]
        if USES_MOZJPEG {
            return moz::encode(px, w, h, layout, quality);
        }
        pure::encode(px, w, h, layout, quality)
    })
    .map_err(|e| Error::internal(format!("JPEG encode failed: {}", e.message())))
}

#[cfg(feature = "mozjpeg")]
mod moz {
    use super::*;
    use mozjpeg::{ColorSpace, Compress};

    pub fn encode(px: &[u8], w: u32, h: u32, layout: Layout, quality: u8) -> Result<Bytes> {
        let space = match layout {
            Layout::Rgb => ColorSpace::JCS_RGB,
            Layout::Bgr => ColorSpace::JCS_EXT_BGR,
            Layout::Rgba => ColorSpace::JCS_EXT_RGBX,
            Layout::Gray => ColorSpace::JCS_GRAYSCALE,
        };
        let mut c = Compress::new(space);
        c.set_fastest_defaults();
        c.set_optimize_coding(false);
        c.set_size(w as usize, h as usize);
        c.set_quality(quality as f32);
        if layout != Layout::Gray {
            c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        }
        let io = |e: std::io::Error| Error::internal(e.to_string());
        let mut started = c
            .start_compress(Vec::with_capacity(px.len() / 10))
            .map_err(io)?;
        started.write_scanlines(px).map_err(io)?;
        Ok(started.finish().map_err(io)?.into())
    }
}

mod pure {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    pub fn encode(px: &[u8], w: u32, h: u32, layout: Layout, quality: u8) -> Result<Bytes> {
        let color = match layout {
            Layout::Rgb => ColorType::Rgb,
            Layout::Bgr => ColorType::Bgr,
            Layout::Rgba => ColorType::Rgba,
            Layout::Gray => ColorType::Luma,
        };
        let mut out = Vec::with_capacity(px.len() / 10);
        let mut enc = Encoder::new(&mut out, quality);
        enc.set_sampling_factor(SamplingFactor::R_4_2_0);
        enc.encode(px, w as u16, h as u16, color)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_encodes_to_a_decodable_jpeg_of_the_right_colour() {
        let (w, h) = (48u32, 32u32);
        let n = (w * h) as usize;
        let cases: [(Layout, Vec<u8>, [u8; 3]); 4] = [
            (Layout::Rgb, [200, 30, 40].repeat(n), [200, 30, 40]),
            (Layout::Bgr, [40, 30, 200].repeat(n), [200, 30, 40]),
            (Layout::Rgba, [200, 30, 40, 0].repeat(n), [200, 30, 40]),
            (Layout::Gray, vec![90; n], [90, 90, 90]),
        ];
        for (layout, px, want) in cases {
            let jpeg = encode(&px, w, h, layout, 90).unwrap();
            let other = pure::encode(&px, w, h, layout, 90).unwrap();
            assert_eq!(
                super::super::jpeg::decode_rgb(&other, usize::MAX)
                    .unwrap()
                    .0
                    .len(),
                (w * h * 3) as usize
            );
            let (rgb, dw, dh) = super::super::jpeg::decode_rgb(&jpeg, usize::MAX).unwrap();
            assert_eq!((dw, dh), (w, h));
            let got = &rgb[(16 * w as usize + 24) * 3..][..3];
            for c in 0..3 {
                assert!(
                    (got[c] as i32 - want[c] as i32).abs() < 8,
                    "{layout:?}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn a_short_buffer_is_an_error_not_a_crash() {
        assert!(encode(&[0u8; 10], 64, 64, Layout::Rgb, 80).is_err());
    }
}
