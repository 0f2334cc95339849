//! Frames: raw pixels in one of a few layouts, or an already-encoded JPEG.
//!
//! A [`Frame`] is cheap to clone: its pixels live in [`Bytes`]. Constructors
//! check that the buffer matches the size and format, so every `Frame` that
//! exists is well-formed and encoders never index out of bounds.

use bytes::Bytes;

use crate::error::{Error, Result};

/// The largest width or height framecast accepts for a frame.
pub const MAX_DIMENSION: u32 = 16_384;

/// The layout of raw pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 3 bytes per pixel, blue first (OpenCV's default).
    Bgr24,
    /// 3 bytes per pixel, red first.
    Rgb24,
    /// 4 bytes per pixel, alpha ignored for video.
    Rgba,
    /// 1 byte per pixel, luma only.
    Gray8,
    /// Planar YUV 4:2:0: Y plane, then U, then V (each chroma plane rounded up).
    I420,
}

impl PixelFormat {
    /// The buffer size in bytes of a `width` x `height` image in this format.
    pub fn buffer_len(self, width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        match self {
            PixelFormat::Bgr24 | PixelFormat::Rgb24 => w * h * 3,
            PixelFormat::Rgba => w * h * 4,
            PixelFormat::Gray8 => w * h,
            PixelFormat::I420 => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
        }
    }

    /// Parse the names used in the HTTP API (`bgr24`, `rgb24`, `rgba`, `gray8`, `i420`).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "bgr24" | "bgr" => Ok(PixelFormat::Bgr24),
            "rgb24" | "rgb" => Ok(PixelFormat::Rgb24),
            "rgba" => Ok(PixelFormat::Rgba),
            "gray8" | "gray" | "grey8" => Ok(PixelFormat::Gray8),
            "i420" | "yuv420p" => Ok(PixelFormat::I420),
            other => Err(Error::bad_request(format!(
                "unknown pixel format {other:?}; expected one of bgr24, rgb24, rgba, gray8, i420"
            ))),
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Bgr24 => "bgr24",
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Rgba => "rgba",
            PixelFormat::Gray8 => "gray8",
            PixelFormat::I420 => "i420",
        }
    }
}

/// The pixels of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameData {
    /// Raw pixels in `format`; the length always matches the frame size.
    Raw {
        /// The layout.
        format: PixelFormat,
        /// Exactly `format.buffer_len(width, height)` bytes.
        data: Bytes,
    },
    /// A complete baseline or progressive JPEG file.
    Jpeg(Bytes),
}

/// One picture, raw or JPEG, of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    width: u32,
    height: u32,
    data: FrameData,
}

fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(Error::bad_request(format!(
            "frame size {width}x{height} is out of range (1..={MAX_DIMENSION} each side)"
        )));
    }
    Ok(())
}

impl Frame {
    /// A raw frame; fails if `data` is not exactly the size `format` needs.
    pub fn raw(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: impl Into<Bytes>,
    ) -> Result<Self> {
        check_dimensions(width, height)?;
        let data = data.into();
        let want = format.buffer_len(width, height);
        if data.len() != want {
            return Err(Error::bad_request(format!(
                "a {width}x{height} {} frame needs {want} bytes, got {}",
                format.name(),
                data.len()
            )));
        }
        Ok(Frame {
            width,
            height,
            data: FrameData::Raw { format, data },
        })
    }

    /// A JPEG frame of a size already read from its headers; use
    /// [`crate::codec::jpeg::frame`] to probe and check the bytes first.
    pub fn from_jpeg_parts(width: u32, height: u32, data: Bytes) -> Result<Self> {
        check_dimensions(width, height)?;
        Ok(Frame {
            width,
            height,
            data: FrameData::Jpeg(data),
        })
    }

    /// A frame filled with one RGB colour (handy for tests and placeholders).
    pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Result<Self> {
        check_dimensions(width, height)?;
        let mut buf = Vec::with_capacity(PixelFormat::Rgb24.buffer_len(width, height));
        for _ in 0..(width as usize * height as usize) {
            buf.extend_from_slice(&rgb);
        }
        Frame::raw(width, height, PixelFormat::Rgb24, buf)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels.
    pub fn data(&self) -> &FrameData {
        &self.data
    }

    /// True when the frame is an encoded JPEG.
    pub fn is_jpeg(&self) -> bool {
        matches!(self.data, FrameData::Jpeg(_))
    }

    /// Raw pixels as packed RGB24, converted as needed; `None` for a JPEG
    /// frame, which needs a decoder ([`crate::codec::image::rgb24`]).
    pub fn raw_to_rgb24(&self) -> Option<Bytes> {
        match &self.data {
            FrameData::Raw { format, data } => Some(super::colour::to_rgb24(
                *format,
                data,
                self.width as usize,
                self.height as usize,
            )),
            FrameData::Jpeg(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_size_is_checked() {
        assert!(Frame::raw(4, 2, PixelFormat::Bgr24, vec![0; 24]).is_ok());
        let e = Frame::raw(4, 2, PixelFormat::Bgr24, vec![0; 23]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadRequest);
        assert!(Frame::raw(0, 2, PixelFormat::Gray8, vec![]).is_err());
        assert_eq!(PixelFormat::I420.buffer_len(3, 3), 9 + 2 * 4);
    }

    #[test]
    fn conversions_to_rgb() {
        let bgr = Frame::raw(1, 1, PixelFormat::Bgr24, vec![1, 2, 3]).unwrap();
        assert_eq!(&bgr.raw_to_rgb24().unwrap()[..], &[3, 2, 1]);
        let gray = Frame::raw(1, 1, PixelFormat::Gray8, vec![7]).unwrap();
        assert_eq!(&gray.raw_to_rgb24().unwrap()[..], &[7, 7, 7]);
        // Y=235,U=V=128 is white in limited range.
        let i420 = Frame::raw(2, 2, PixelFormat::I420, vec![235, 235, 235, 235, 128, 128]).unwrap();
        assert!(i420.raw_to_rgb24().unwrap().iter().all(|&c| c >= 254));
        let jpeg = Frame::from_jpeg_parts(1, 1, Bytes::new()).unwrap();
        assert!(jpeg.raw_to_rgb24().is_none());
    }
}
