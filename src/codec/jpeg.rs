//! JPEG: cheap header probing, decoding (zune-jpeg) and encoding (see `jpeg_encode`).

use bytes::Bytes;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::jpeg_encode::Layout;
use crate::error::{Error, Result};
use crate::media::{Frame, FrameData, PixelFormat, MAX_DIMENSION};

/// Default encode quality (1-100).
pub const DEFAULT_QUALITY: u8 = 80;

fn options() -> DecoderOptions {
    DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGB)
}

/// Read a JPEG's width and height from its headers, and check that the file
/// is complete: it must start with SOI and end with EOI (a truncated upload
/// is caught here without decoding any pixels).
pub fn probe(data: &[u8]) -> Result<(u32, u32)> {
    if data.len() < 4 || data[..2] != [0xFF, 0xD8] {
        return Err(Error::bad_request(
            "not a JPEG: the data does not start with the SOI marker",
        ));
    }
    let tail = &data[data.len().saturating_sub(16)..];
    if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(Error::bad_request(
            "truncated JPEG: no EOI marker at the end",
        ));
    }
    super::guard("JPEG headers", || {
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), options());
        dec.decode_headers()
            .map_err(|e| Error::bad_request(format!("corrupt JPEG headers: {e:?}")))?;
        let (w, h) = dec
            .dimensions()
            .ok_or_else(|| Error::bad_request("corrupt JPEG: no frame header"))?;
        Ok((w as u32, h as u32))
    })
}

/// A JPEG frame: reads the size from the headers and checks the file is
/// complete (starts with SOI, ends with EOI). Does not decode the pixels.
pub fn frame(data: impl Into<Bytes>) -> Result<Frame> {
    let data = data.into();
    let (width, height) = probe(&data)?;
    Frame::from_jpeg_parts(width, height, data)
}

/// Decode a JPEG to packed RGB24, refusing images over `max_pixels`.
/// Returns `(rgb, width, height)`.
pub fn decode_rgb(data: &[u8], max_pixels: usize) -> Result<(Vec<u8>, u32, u32)> {
    let (w, h) = probe(data)?;
    if (w as usize) * (h as usize) > max_pixels {
        return Err(Error::new(
            crate::ErrorKind::TooLarge,
            format!("JPEG of {w}x{h} is over the limit of {max_pixels} pixels"),
        ));
    }
    super::guard("JPEG", || {
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(data), options());
        let rgb = dec
            .decode()
            .map_err(|e| Error::bad_request(format!("corrupt JPEG: {e:?}")))?;
        if rgb.len() != (w as usize) * (h as usize) * 3 {
            return Err(Error::bad_request(
                "corrupt JPEG: decoded size does not match headers",
            ));
        }
        Ok((rgb, w, h))
    })
}

/// Encode a frame as JPEG at `quality` (4:2:0). A JPEG frame is returned as it is.
pub fn encode(frame: &Frame, quality: u8) -> Result<Bytes> {
    let (format, data) = match frame.data() {
        FrameData::Jpeg(b) => return Ok(b.clone()),
        FrameData::Raw { format, data } => (*format, data.clone()),
    };
    let (layout, pixels) = match format {
        PixelFormat::Rgb24 => (Layout::Rgb, data),
        PixelFormat::Bgr24 => (Layout::Bgr, data),
        PixelFormat::Rgba => (Layout::Rgba, data),
        PixelFormat::Gray8 => (Layout::Gray, data),
        PixelFormat::I420 => (Layout::Rgb, super::image::rgb24(frame)?),
    };
    super::jpeg_encode::encode(&pixels, frame.width(), frame.height(), layout, quality)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_colour() {
        let f = Frame::solid(64, 48, [200, 30, 40]).unwrap();
        let jpeg = encode(&f, 90).unwrap();
        assert_eq!(probe(&jpeg).unwrap(), (64, 48));
        let (rgb, w, h) = decode_rgb(&jpeg, usize::MAX).unwrap();
        assert_eq!((w, h), (64, 48));
        let px = &rgb[(24 * 64 + 32) * 3..][..3];
        assert!((px[0] as i32 - 200).abs() < 8 && (px[1] as i32 - 30).abs() < 8);
    }

    #[test]
    fn truncated_jpeg_is_rejected() {
        let jpeg = encode(&Frame::solid(32, 32, [1, 2, 3]).unwrap(), 80).unwrap();
        let cut = &jpeg[..jpeg.len() / 2];
        assert!(probe(cut).is_err());
        assert!(decode_rgb(cut, usize::MAX).is_err());
    }

    #[test]
    fn pixel_limit_is_enforced() {
        let jpeg = encode(&Frame::solid(32, 32, [1, 2, 3]).unwrap(), 80).unwrap();
        assert_eq!(
            decode_rgb(&jpeg, 100).unwrap_err().kind(),
            crate::ErrorKind::TooLarge
        );
    }
}
