//! The picture shown when there is nothing to play: a dark card with a
//! picture-frame icon, a title ("NO IMAGES", "FOLDER NOT FOUND" …) and the
//! folder path, drawn with the built-in bitmap font.

use crate::codec::image::RgbImage;
use crate::media::glyphs::{glyph, ADVANCE, GLYPH};

const BACKGROUND: [u8; 3] = [22, 26, 34];
const TITLE: [u8; 3] = [240, 240, 240];
const DETAIL: [u8; 3] = [150, 160, 175];
const ICON: [u8; 3] = [90, 140, 220];

/// Draw the placeholder card at `width` x `height`.
pub(crate) fn draw(width: u32, height: u32, title: &str, lines: &[&str]) -> RgbImage {
    let mut img = RgbImage::filled(width, height, BACKGROUND);
    let unit = (width / 320).clamp(1, height.max(1) / 90 + 1).max(1);
    let big = unit * 2;
    let line_h = |scale: u32| (GLYPH.1 + 4) * scale;
    let icon_h = 14 * big;
    let text_h = line_h(big) + lines.len() as u32 * line_h(unit);
    let mut y = height.saturating_sub(icon_h + 6 * unit + text_h) / 2;
    draw_icon(&mut img, width / 2, y, big);
    y += icon_h + 6 * unit;
    draw_centred(&mut img, y, big, title, TITLE);
    y += line_h(big);
    for line in lines {
        draw_centred(&mut img, y, unit, line, DETAIL);
        y += line_h(unit);
    }
    img
}

/// A framed landscape: an outline with a "sun" block and a "hill" step.
fn draw_icon(img: &mut RgbImage, cx: u32, top: u32, u: u32) {
    let (w, h) = (20 * u, 14 * u);
    let left = cx.saturating_sub(w / 2);
    let t = u.max(1);
    fill(img, left, top, w, t, ICON);
    fill(img, left, top + h - t, w, t, ICON);
    fill(img, left, top, t, h, ICON);
    fill(img, left + w - t, top, t, h, ICON);
    fill(img, left + 13 * u, top + 3 * u, 3 * u, 3 * u, ICON);
    fill(img, left + 3 * u, top + 9 * u, 6 * u, 3 * u, ICON);
    fill(img, left + 6 * u, top + 7 * u, 6 * u, 5 * u, ICON);
}

/// Draw one line of text centred horizontally; a line too long for the
/// width keeps its end (the informative part of a path) after "...".
fn draw_centred(img: &mut RgbImage, y: u32, scale: u32, text: &str, rgb: [u8; 3]) {
    let fits = (img.width / (ADVANCE * scale)).saturating_sub(1) as usize;
    let chars: Vec<char> = text.chars().collect();
    let shown: Vec<char> = if chars.len() > fits {
        let keep = fits.saturating_sub(3);
        "..."
            .chars()
            .chain(chars[chars.len() - keep..].iter().copied())
            .collect()
    } else {
        chars
    };
    let text_w = shown.len() as u32 * ADVANCE * scale;
    let mut x = img.width.saturating_sub(text_w) / 2;
    for c in shown {
        draw_glyph(img, x, y, scale, c, rgb);
        x += ADVANCE * scale;
    }
}

fn draw_glyph(img: &mut RgbImage, x: u32, y: u32, scale: u32, c: char, rgb: [u8; 3]) {
    for (row, bits) in glyph(c).iter().enumerate() {
        for col in 0..GLYPH.0 {
            if bits >> (GLYPH.0 - 1 - col) & 1 == 1 {
                let (px, py) = (x + col * scale, y + row as u32 * scale);
                fill(img, px, py, scale, scale, rgb);
            }
        }
    }
}

/// Fill a rectangle, clipped to the picture.
fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, rgb: [u8; 3]) {
    let x_end = x.saturating_add(w).min(img.width);
    let y_end = y.saturating_add(h).min(img.height);
    for yy in y..y_end {
        for xx in x..x_end {
            let i = (yy as usize * img.width as usize + xx as usize) * 3;
            img.data[i..i + 3].copy_from_slice(&rgb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(img: &RgbImage, rgb: [u8; 3]) -> usize {
        img.data.chunks_exact(3).filter(|p| **p == rgb).count()
    }

    #[test]
    fn card_has_text_and_icon_at_any_size() {
        for (w, h) in [(1280, 720), (320, 180), (64, 48), (1, 1), (3000, 200)] {
            let img = draw(
                w,
                h,
                "NO IMAGES",
                &["/some/long/path/to/photos", "ADD FILES"],
            );
            assert_eq!((img.width, img.height), (w, h));
            if w >= 320 {
                assert!(count(&img, TITLE) > 100, "{w}x{h}: title missing");
                assert!(count(&img, DETAIL) > 50, "{w}x{h}: detail missing");
                assert!(count(&img, ICON) > 50, "{w}x{h}: icon missing");
            }
        }
    }
}
