//! Every colour conversion in framecast, in one place: packed RGB/BGR/RGBA
//! to I420 for the H.264 encoder (through the `yuv` crate, BT.601 limited
//! range), I420 back to RGB, and the packed layouts to RGB24.
//!
//! The matrix and range used here are the ones the encoder's output must
//! signal (or that players assume): change them together.

use bytes::Bytes;
use yuv::{BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

use super::PixelFormat;
use crate::error::{Error, Result};

/// Raw pixels of `format` (exactly `format.buffer_len(w, h)` bytes) as
/// packed RGB24. RGB24 is shared, not copied.
pub fn to_rgb24(format: PixelFormat, data: &Bytes, w: usize, h: usize) -> Bytes {
    match format {
        PixelFormat::Rgb24 => data.clone(),
        PixelFormat::Bgr24 => data
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect::<Vec<_>>()
            .into(),
        PixelFormat::Rgba => data
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect::<Vec<_>>()
            .into(),
        PixelFormat::Gray8 => data
            .iter()
            .flat_map(|&g| [g, g, g])
            .collect::<Vec<_>>()
            .into(),
        PixelFormat::I420 => i420_to_rgb(data, w, h).into(),
    }
}

/// Packed RGB24, RGBA or BGR24 rows of `stride` bytes to I420 of `w`x`h`
/// (both even) in `out` (`w * h * 3 / 2` bytes).
pub fn packed_to_i420(
    format: PixelFormat,
    data: &[u8],
    stride: u32,
    w: u32,
    h: u32,
    out: &mut [u8],
) -> Result<()> {
    let (wu, hu) = (w as usize, h as usize);
    let data = data
        .get(..stride as usize * hu)
        .ok_or_else(|| Error::bad_request("H.264: frame data is shorter than its size"))?;
    let (y, uv) = out.split_at_mut(wu * hu);
    let (u, v) = uv.split_at_mut(wu * hu / 4);
    let mut img = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: w,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: w / 2,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: w / 2,
        width: w,
        height: h,
    };
    let (range, matrix, mode) = (
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    );
    let r = match format {
        PixelFormat::Rgb24 => yuv::rgb_to_yuv420(&mut img, data, stride, range, matrix, mode),
        PixelFormat::Bgr24 => yuv::bgr_to_yuv420(&mut img, data, stride, range, matrix, mode),
        PixelFormat::Rgba => yuv::rgba_to_yuv420(&mut img, data, stride, range, matrix, mode),
        other => {
            return Err(Error::internal(format!(
                "H.264: no packed conversion for {}",
                other.name()
            )))
        }
    };
    r.map_err(|e| Error::bad_request(format!("H.264: colour conversion failed: {e}")))
}

/// Copy (and crop to even size) an I420 picture of `sw`x`sh` into `out`.
pub fn copy_i420(data: &[u8], sw: usize, sh: usize, w: usize, h: usize, out: &mut [u8]) {
    let (scw, sch) = (sw.div_ceil(2), sh.div_ceil(2));
    let (sy, rest) = data.split_at((sw * sh).min(data.len()));
    let (su, sv) = rest.split_at((scw * sch).min(rest.len()));
    let (y, uv) = out.split_at_mut(w * h);
    let (u, v) = uv.split_at_mut(w * h / 4);
    let rows = |dst: &mut [u8], src: &[u8], dw: usize, sstride: usize, n: usize| {
        for r in 0..n {
            if let (Some(d), Some(s)) = (
                dst.get_mut(r * dw..(r + 1) * dw),
                src.get(r * sstride..r * sstride + dw),
            ) {
                d.copy_from_slice(s);
            }
        }
    };
    rows(y, sy, w, sw, h);
    rows(u, su, w / 2, scw, h / 2);
    rows(v, sv, w / 2, scw, h / 2);
}

/// BT.601 limited-range I420 to packed RGB24 (a plain loop; the hot paths
/// go the other way, RGB to YUV, through the `yuv` crate).
pub fn i420_to_rgb(data: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, rest) = data.split_at(w * h);
    let (u, v) = rest.split_at(cw * ch);
    let mut out = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        for col in 0..w {
            let c = (row / 2) * cw + col / 2;
            let yy = (y[row * w + col] as i32 - 16) * 298;
            let (uu, vv) = (u[c] as i32 - 128, v[c] as i32 - 128);
            let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
            out.push(clamp(yy + 409 * vv));
            out.push(clamp(yy - 100 * uu - 208 * vv));
            out.push(clamp(yy + 516 * uu));
        }
    }
    out
}
