//! Image files (JPEG, PNG) to frames: decoding, EXIF orientation, letterboxing.
//!
//! [`load_frame`] turns the bytes of an image file into a frame of an exact
//! output size: the type is told by magic bytes (never by file name), the
//! picture is turned upright from its EXIF orientation, then scaled to fit
//! and centred on black. A JPEG that already is exactly the output size and
//! upright is passed through byte for byte, so it is never re-encoded.

use bytes::Bytes;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::error::{Error, ErrorKind, Result};
use crate::media::{Frame, FrameData, PixelFormat, MAX_DIMENSION};

/// The default limit on decoded pixels (64 Mpx): bigger images are refused.
pub const DEFAULT_MAX_PIXELS: usize = 64_000_000;

/// The default output size.
pub const DEFAULT_TARGET: (u32, u32) = (1280, 720);

/// Any frame as packed RGB24: raw pixels converted, a JPEG decoded.
pub fn rgb24(frame: &Frame) -> Result<Bytes> {
    if let Some(rgb) = frame.raw_to_rgb24() {
        return Ok(rgb);
    }
    let FrameData::Jpeg(jpeg) = frame.data() else {
        return Err(Error::internal("a raw frame that cannot be converted"));
    };
    let (rgb, _, _) = super::jpeg::decode_rgb(jpeg, usize::MAX)?;
    Ok(rgb.into())
}

/// An image file type, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG (starts with `FF D8 FF`).
    Jpeg,
    /// PNG (starts with the 8-byte PNG signature).
    Png,
}

/// Tell the type of an image file from its magic bytes; `None` if neither JPEG nor PNG.
pub fn sniff(data: &[u8]) -> Option<ImageKind> {
    const PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if data.starts_with(&PNG) {
        Some(ImageKind::Png)
    } else {
        None
    }
}

/// A packed RGB24 picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, row by row, red first.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A picture filled with one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let n = width as usize * height as usize;
        RgbImage {
            width,
            height,
            data: rgb.iter().copied().cycle().take(n * 3).collect(),
        }
    }

    /// The colour at `(x, y)`; `None` outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// As a raw RGB24 frame.
    pub fn into_frame(self) -> Result<Frame> {
        Frame::raw(self.width, self.height, PixelFormat::Rgb24, self.data)
    }
}

/// A frame ready to publish, and how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// The file itself: a JPEG already of the output size and upright.
    PassThrough(Frame),
    /// Decoded, turned upright and letterboxed to the output size (raw RGB24).
    Converted(Frame),
}

impl Prepared {
    /// The frame, however it was made.
    pub fn frame(&self) -> &Frame {
        match self {
            Prepared::PassThrough(f) | Prepared::Converted(f) => f,
        }
    }

    /// The frame, by value.
    pub fn into_frame(self) -> Frame {
        match self {
            Prepared::PassThrough(f) | Prepared::Converted(f) => f,
        }
    }

    /// True when the file's bytes go out untouched.
    pub fn is_pass_through(&self) -> bool {
        matches!(self, Prepared::PassThrough(_))
    }
}

/// Turn an image file into a frame of exactly `target` size.
///
/// Errors: not a JPEG or PNG, or corrupt or truncated (`BadRequest`); over
/// `max_pixels` (`TooLarge`). A pass-through JPEG is still decoded once to
/// make sure viewers never get a broken file.
pub fn load_frame(data: Bytes, target: (u32, u32), max_pixels: usize) -> Result<Prepared> {
    check_target(target)?;
    let kind = sniff(&data)
        .ok_or_else(|| Error::new(ErrorKind::UnsupportedMediaType, "not a JPEG or PNG file"))?;
    let orientation = match kind {
        ImageKind::Jpeg => jpeg_orientation(&data),
        ImageKind::Png => 1,
    };
    let img = decode_kind(kind, &data, max_pixels)?;
    if kind == ImageKind::Jpeg && orientation == 1 && (img.width, img.height) == target {
        return Ok(Prepared::PassThrough(super::jpeg::frame(data)?));
    }
    Ok(Prepared::Converted(
        letterbox_oriented(&img, orientation, target)?.into_frame()?,
    ))
}

fn check_target((w, h): (u32, u32)) -> Result<()> {
    if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
        return Err(Error::bad_request(format!(
            "output size {w}x{h} is out of range (1..={MAX_DIMENSION} each side)"
        )));
    }
    Ok(())
}

/// Decode a JPEG or PNG (told by magic bytes) to RGB24, upright per its EXIF
/// orientation, refusing images over `max_pixels`.
pub fn decode(data: &[u8], max_pixels: usize) -> Result<RgbImage> {
    let kind = sniff(data)
        .ok_or_else(|| Error::new(ErrorKind::UnsupportedMediaType, "not a JPEG or PNG file"))?;
    let img = decode_kind(kind, data, max_pixels)?;
    Ok(match kind {
        ImageKind::Jpeg => orient(img, jpeg_orientation(data)),
        ImageKind::Png => img,
    })
}

fn decode_kind(kind: ImageKind, data: &[u8], max_pixels: usize) -> Result<RgbImage> {
    match kind {
        ImageKind::Jpeg => {
            let (data, width, height) = super::jpeg::decode_rgb(data, max_pixels)?;
            Ok(RgbImage {
                width,
                height,
                data,
            })
        }
        ImageKind::Png => super::guard("PNG", || png_to_rgb(data, max_pixels)),
    }
}

/// Decode a PNG (any colour type and depth) into a raw RGB24 frame,
/// refusing images over `max_pixels` (`TooLarge`).
pub fn decode_png(data: &[u8], max_pixels: usize) -> Result<Frame> {
    super::guard("PNG", || png_to_rgb(data, max_pixels))?.into_frame()
}

fn too_large(what: &str, w: u32, h: u32, max_pixels: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("{what} of {w}x{h} is over the limit of {max_pixels} pixels"),
    )
}

/// Decode a PNG of any colour type and depth to RGB24. Transparency is
/// composited over black (the letterbox colour).
fn png_to_rgb(data: &[u8], max_pixels: usize) -> Result<RgbImage> {
    let bad = |e: png::DecodingError| Error::bad_request(format!("corrupt PNG: {e}"));
    let mut dec = png::Decoder::new(std::io::Cursor::new(data));
    let (w, h) = {
        let info = dec.read_header_info().map_err(bad)?;
        (info.width, info.height)
    };
    if (w as usize).saturating_mul(h as usize) > max_pixels {
        return Err(too_large("PNG", w, h, max_pixels));
    }
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| too_large("PNG", w, h, max_pixels))?;
    let mut buf = vec![0; size];
    let out = reader.next_frame(&mut buf).map_err(bad)?;
    // Insist on the end of the file too: a truncated upload is not shown half-read.
    reader.finish().map_err(bad)?;
    let (fw, fh) = (out.width, out.height);
    buf.truncate(out.buffer_size());
    let rgb = to_rgb(&buf, out.color_type, fw as usize * fh as usize)?;
    Ok(RgbImage {
        width: fw,
        height: fh,
        data: rgb,
    })
}

/// 8-bit samples of `color` to RGB24, alpha composited over black.
fn to_rgb(buf: &[u8], color: png::ColorType, pixels: usize) -> Result<Vec<u8>> {
    use png::ColorType as C;
    let over_black = |c: u8, a: u8| ((c as u16 * a as u16 + 127) / 255) as u8;
    let channels = match color {
        C::Grayscale => 1,
        C::GrayscaleAlpha => 2,
        C::Rgb => 3,
        C::Rgba => 4,
        C::Indexed => return Err(Error::bad_request("PNG palette was not expanded")),
    };
    if buf.len() < pixels * channels {
        return Err(Error::bad_request("corrupt PNG: short image data"));
    }
    let px = buf[..pixels * channels].chunks_exact(channels);
    Ok(match color {
        C::Grayscale => px.flat_map(|p| [p[0]; 3]).collect(),
        C::GrayscaleAlpha => px.flat_map(|p| [over_black(p[0], p[1]); 3]).collect(),
        C::Rgb => buf[..pixels * 3].to_vec(),
        _ => px
            .flat_map(|p| [0, 1, 2].map(|i| over_black(p[i], p[3])))
            .collect(),
    })
}

/// The EXIF orientation (1-8) of a JPEG; 1 when absent or unreadable.
pub fn jpeg_orientation(data: &[u8]) -> u16 {
    let Some(payload) = exif_payload(data) else {
        return 1;
    };
    let parsed = super::guard("EXIF", || {
        exif::Reader::new()
            .read_raw(payload.to_vec())
            .map_err(|e| Error::bad_request(format!("bad EXIF: {e}")))
    });
    let value = parsed.ok().and_then(|ex| {
        ex.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
            .and_then(|f| f.value.get_uint(0))
    });
    match value {
        Some(v @ 1..=8) => v as u16,
        _ => 1,
    }
}

/// The TIFF data of the first `APP1` "Exif" segment before the scan.
fn exif_payload(data: &[u8]) -> Option<&[u8]> {
    const EXIF_ID: &[u8] = b"Exif\0\0";
    let mut i = 2; // after SOI
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan or end of image: no EXIF up front
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        let seg = data.get(i + 4..i + 2 + len.max(2))?;
        if marker == 0xE1 && seg.starts_with(EXIF_ID) {
            return Some(&seg[EXIF_ID.len()..]);
        }
        i += 2 + len;
    }
    None
}

/// Turn a picture upright from its EXIF orientation (1-8; others are left as is).
pub fn orient(img: RgbImage, orientation: u16) -> RgbImage {
    if !(2..=8).contains(&orientation) {
        return img;
    }
    let (w, h) = (img.width as isize, img.height as isize);
    // Source pixel index of output pixel (dx, dy) = base + dx * step_x + dy * step_y.
    let (last_row, last_col) = ((h - 1) * w, w - 1);
    let (base, step_x, step_y) = match orientation {
        2 => (last_col, -1, w),
        3 => (last_row + last_col, -1, -w),
        4 => (last_row, 1, -w),
        5 => (0, w, 1),
        6 => (last_row, -w, 1),
        7 => (last_row + last_col, -w, -1),
        _ => (last_col, w, -1),
    };
    let (ow, oh) = if orientation >= 5 { (h, w) } else { (w, h) };
    let mut out = vec![0; img.data.len()];
    for (dy, row) in out.chunks_exact_mut(ow as usize * 3).enumerate() {
        let mut p = base + dy as isize * step_y;
        for px in row.chunks_exact_mut(3) {
            let s = p as usize * 3;
            px.copy_from_slice(&img.data[s..s + 3]);
            p += step_x;
        }
    }
    RgbImage {
        width: ow as u32,
        height: oh as u32,
        data: out,
    }
}

/// Where a `src`-sized picture goes inside `dst` when scaled to fit with its
/// aspect ratio kept and centred: `(x, y, width, height)`.
pub fn fit(src: (u32, u32), dst: (u32, u32)) -> (u32, u32, u32, u32) {
    let (sw, sh) = (src.0.max(1) as u64, src.1.max(1) as u64);
    let (dw, dh) = (dst.0 as u64, dst.1 as u64);
    // Compare sw/sh with dw/dh in integers: the limiting side fills its axis.
    let (w, h) = if sw * dh >= sh * dw {
        (dw, ((sh * dw + sw / 2) / sw).clamp(1, dh))
    } else {
        (((sw * dh + sh / 2) / sh).clamp(1, dw), dh)
    };
    let (x, y) = ((dw - w) / 2, (dh - h) / 2);
    (x as u32, y as u32, w as u32, h as u32)
}

/// Scale `img` to fit `target` keeping its aspect ratio, centred on black.
pub fn letterbox(img: &RgbImage, target: (u32, u32)) -> Result<RgbImage> {
    letterbox_oriented(img, 1, target)
}

/// [`letterbox`] of the upright picture, with the picture scaled before it
/// is turned: rotating a 24 Mpx photo costs far more than rotating the
/// 1 Mpx result.
pub fn letterbox_oriented(
    img: &RgbImage,
    orientation: u16,
    target: (u32, u32),
) -> Result<RgbImage> {
    check_target(target)?;
    let swap = (5..=8).contains(&orientation);
    let upright = if swap {
        (img.height, img.width)
    } else {
        (img.width, img.height)
    };
    let (x, y, w, h) = fit(upright, target);
    let (sw, sh) = if swap { (h, w) } else { (w, h) };
    let scaled = RgbImage {
        width: sw,
        height: sh,
        data: resize(img, sw, sh)?,
    };
    let turned = orient(scaled, orientation);
    if (w, h) == target {
        return Ok(turned);
    }
    let mut out = RgbImage::filled(target.0, target.1, [0, 0, 0]);
    let (row_in, row_out) = (w as usize * 3, target.0 as usize * 3);
    for (r, line) in turned.data.chunks_exact(row_in).enumerate() {
        let at = (y as usize + r) * row_out + x as usize * 3;
        out.data[at..at + row_in].copy_from_slice(line);
    }
    Ok(out)
}

fn resize(img: &RgbImage, w: u32, h: u32) -> Result<Vec<u8>> {
    if (img.width, img.height) == (w, h) {
        return Ok(img.data.clone());
    }
    let fail = |e: &dyn std::fmt::Display| Error::internal(format!("resize failed: {e}"));
    let src =
        ImageRef::new(img.width, img.height, &img.data, PixelType::U8x3).map_err(|e| fail(&e))?;
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new()
        .resize(&src, &mut dst, &opts)
        .map_err(|e| fail(&e))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
