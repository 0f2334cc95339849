//! Drawing text and rectangles into RGB24 buffers with the 5x7 font in [`super::glyphs`].

use super::glyphs::glyph;

/// Width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * 6 * scale
}

/// Draw `text` into a packed RGB24 buffer of `width` pixels per row, top-left
/// at (x, y), each font pixel a `scale` x `scale` block; clipped to the buffer.
pub fn draw_text(
    buf: &mut [u8],
    width: usize,
    x: usize,
    y: usize,
    text: &str,
    scale: usize,
    rgb: [u8; 3],
) {
    let height = buf.len() / (width * 3);
    for (i, c) in text.chars().enumerate() {
        let gx = x + i * 6 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    fill_rect(
                        buf,
                        width,
                        height,
                        gx + col * scale,
                        y + row * scale,
                        scale,
                        scale,
                        rgb,
                    );
                }
            }
        }
    }
}

/// Fill a rectangle in a packed RGB24 buffer, clipped to `width` x `height`.
#[allow(clippy::too_many_arguments)]
pub fn fill_rect(
    buf: &mut [u8],
    width: usize,
    height: usize,
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    rgb: [u8; 3],
) {
    let x1 = (x + w).min(width);
    for row in y..(y + h).min(height) {
        let start = (row * width + x.min(x1)) * 3;
        let end = (row * width + x1) * 3;
        for px in buf[start..end].chunks_exact_mut(3) {
            px.copy_from_slice(&rgb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_inside_and_clips() {
        let (w, h) = (40, 10);
        let mut buf = vec![0u8; w * h * 3];
        draw_text(&mut buf, w, 0, 0, "1", 1, [255, 0, 0]);
        // '1' has its top pixel at column 2.
        assert_eq!(&buf[2 * 3..2 * 3 + 3], &[255, 0, 0]);
        draw_text(&mut buf, w, 35, 8, "888", 3, [0, 255, 0]); // mostly off-buffer: no panic
        assert_eq!(text_width("ab", 2), 24);
    }
}
