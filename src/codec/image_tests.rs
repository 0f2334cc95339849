//! Unit tests for `codec::image`.

use super::*;
use crate::media::FrameData;

/// A 3x2 picture whose pixels are all different: value = index.
fn numbered() -> RgbImage {
    RgbImage {
        width: 3,
        height: 2,
        data: (0..6u8).flat_map(|i| [i, i, i]).collect(),
    }
}

fn grid(img: &RgbImage) -> Vec<Vec<u8>> {
    (0..img.height)
        .map(|y| {
            (0..img.width)
                .map(|x| img.pixel(x, y).unwrap()[0])
                .collect()
        })
        .collect()
}

#[test]
fn orientations_move_pixels_where_exif_says() {
    // Stored:  0 1 2
    //          3 4 5
    let cases: [(u16, Vec<Vec<u8>>); 8] = [
        (1, vec![vec![0, 1, 2], vec![3, 4, 5]]),
        (2, vec![vec![2, 1, 0], vec![5, 4, 3]]),
        (3, vec![vec![5, 4, 3], vec![2, 1, 0]]),
        (4, vec![vec![3, 4, 5], vec![0, 1, 2]]),
        (5, vec![vec![0, 3], vec![1, 4], vec![2, 5]]),
        (6, vec![vec![3, 0], vec![4, 1], vec![5, 2]]),
        (7, vec![vec![5, 2], vec![4, 1], vec![3, 0]]),
        (8, vec![vec![2, 5], vec![1, 4], vec![0, 3]]),
    ];
    for (o, want) in cases {
        assert_eq!(grid(&orient(numbered(), o)), want, "orientation {o}");
    }
    assert_eq!(orient(numbered(), 0), numbered());
    assert_eq!(orient(numbered(), 9), numbered());
}

#[test]
fn fit_keeps_aspect_and_centres() {
    assert_eq!(fit((1280, 720), (1280, 720)), (0, 0, 1280, 720));
    assert_eq!(fit((6000, 4000), (1280, 720)), (100, 0, 1080, 720));
    assert_eq!(fit((4000, 6000), (1280, 720)), (400, 0, 480, 720));
    assert_eq!(fit((1000, 100), (1280, 720)), (0, 296, 1280, 128));
    assert_eq!(fit((64, 36), (1280, 720)), (0, 0, 1280, 720));
    assert_eq!(fit((1, 100_000), (1280, 720)), (639, 0, 1, 720));
}

#[test]
fn letterbox_puts_picture_on_black() {
    let img = RgbImage::filled(400, 400, [250, 10, 10]);
    let out = letterbox(&img, (320, 180)).unwrap();
    assert_eq!((out.width, out.height), (320, 180));
    assert_eq!(out.pixel(10, 90), Some([0, 0, 0]));
    assert_eq!(out.pixel(310, 90), Some([0, 0, 0]));
    assert_eq!(out.pixel(160, 90), Some([250, 10, 10]));
    assert_eq!(out.pixel(71, 0), Some([250, 10, 10])); // x = 70..250
    assert_eq!(out.pixel(69, 0), Some([0, 0, 0]));
}

fn png_bytes(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    png_with(w, h, color, depth, data, |_| {})
}

fn png_with(
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    tweak: impl FnOnce(&mut png::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        tweak(&mut enc);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(data).unwrap();
    }
    out
}

#[test]
fn png_variants_decode_to_rgb() {
    use png::{BitDepth as D, ColorType as C};
    let rgb = png_bytes(2, 1, C::Rgb, D::Eight, &[10, 20, 30, 40, 50, 60]);
    assert_eq!(
        decode(&rgb, 100).unwrap().data,
        vec![10, 20, 30, 40, 50, 60]
    );

    let rgba = png_bytes(1, 1, C::Rgba, D::Eight, &[200, 100, 50, 255]);
    assert_eq!(decode(&rgba, 100).unwrap().data, vec![200, 100, 50]);
    let half = png_bytes(1, 1, C::Rgba, D::Eight, &[200, 100, 50, 128]);
    assert_eq!(decode(&half, 100).unwrap().data, vec![100, 50, 25]);

    let gray = png_bytes(2, 1, C::Grayscale, D::Eight, &[7, 9]);
    assert_eq!(decode(&gray, 100).unwrap().data, vec![7, 7, 7, 9, 9, 9]);
    let ga = png_bytes(1, 1, C::GrayscaleAlpha, D::Eight, &[100, 255]);
    assert_eq!(decode(&ga, 100).unwrap().data, vec![100, 100, 100]);

    let rgb16 = png_bytes(
        1,
        1,
        C::Rgb,
        D::Sixteen,
        &[0xAB, 0xCD, 0x12, 0x34, 0xFF, 0xFF],
    );
    assert_eq!(decode(&rgb16, 100).unwrap().data, vec![0xAB, 0x12, 0xFF]);
    let gray1 = png_bytes(8, 1, C::Grayscale, D::One, &[0b1010_0000]);
    let g = decode(&gray1, 100).unwrap();
    assert_eq!(
        (g.pixel(0, 0), g.pixel(1, 0)),
        (Some([255; 3]), Some([0; 3]))
    );

    let pal = png_with(2, 1, C::Indexed, D::Eight, &[1, 0], |e| {
        e.set_palette(vec![1, 2, 3, 90, 80, 70]);
    });
    assert_eq!(decode(&pal, 100).unwrap().data, vec![90, 80, 70, 1, 2, 3]);
}

#[test]
fn png_over_the_pixel_limit_is_too_large() {
    use png::{BitDepth as D, ColorType as C};
    let big = png_bytes(20, 10, C::Grayscale, D::Eight, &[0; 200]);
    assert_eq!(decode(&big, 199).unwrap_err().kind(), ErrorKind::TooLarge);
    assert!(decode(&big, 200).is_ok());
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    assert_eq!(
        decode(b"hello world", 100).unwrap_err().kind(),
        ErrorKind::UnsupportedMediaType
    );
    assert!(decode(&[], 100).is_err());
    let png = png_bytes(4, 4, png::ColorType::Rgb, png::BitDepth::Eight, &[9; 48]);
    for cut in [9, 20, 33, png.len() - 13, png.len() - 1] {
        assert!(decode(&png[..cut], 1000).is_err(), "PNG cut at {cut}");
    }
    let mut garbled = png.clone();
    let n = garbled.len();
    garbled[40..n - 12].iter_mut().for_each(|b| *b ^= 0x5A);
    assert!(decode(&garbled, 1000).is_err());

    let jpeg = crate::codec::jpeg::encode(&Frame::solid(32, 32, [1, 2, 3]).unwrap(), 80).unwrap();
    assert!(decode(&jpeg[..jpeg.len() / 2], 10_000).is_err());
    let mut junk = jpeg[..4].to_vec();
    junk.extend((0..500u32).map(|i| (i * 97 % 251) as u8));
    junk.extend([0xFF, 0xD9]);
    assert!(decode(&junk, 10_000).is_err());
}

/// A JPEG with an EXIF APP1 segment holding only an orientation, right after SOI.
pub(crate) fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(1u16.to_le_bytes()); // one IFD entry
    tiff.extend(0x0112u16.to_le_bytes()); // Orientation
    tiff.extend(3u16.to_le_bytes()); // SHORT
    tiff.extend(1u32.to_le_bytes()); // count
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0, 0, 0, 0, 0]); // value padding + next IFD = 0
    let mut seg = b"Exif\0\0".to_vec();
    seg.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((seg.len() + 2) as u16).to_be_bytes());
    out.extend(seg);
    out.extend(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_read_and_applied() {
    // 16x8, left half red, right half blue.
    let mut img = RgbImage::filled(16, 8, [0, 0, 255]);
    for y in 0..8 {
        for x in 0..8 {
            let i = (y * 16 + x) * 3;
            img.data[i..i + 3].copy_from_slice(&[255, 0, 0]);
        }
    }
    let jpeg = crate::codec::jpeg::encode(&img.into_frame().unwrap(), 95).unwrap();
    assert_eq!(jpeg_orientation(&jpeg), 1);
    let rotated = with_orientation(&jpeg, 6);
    assert_eq!(jpeg_orientation(&rotated), 6);
    let up = decode(&rotated, 1000).unwrap();
    assert_eq!((up.width, up.height), (8, 16));
    // Rotated 90° clockwise: the left (red) half is now on top.
    assert!(up.pixel(4, 2).unwrap()[0] > 200 && up.pixel(4, 13).unwrap()[2] > 200);
    assert_eq!(jpeg_orientation(&with_orientation(&jpeg, 42)), 1);
}

#[test]
fn jpeg_at_target_size_passes_through_untouched() {
    let jpeg = crate::codec::jpeg::encode(&Frame::solid(64, 36, [5, 6, 7]).unwrap(), 80).unwrap();
    let p = load_frame(jpeg.clone(), (64, 36), 10_000).unwrap();
    assert!(p.is_pass_through());
    assert_eq!(p.frame().data(), &FrameData::Jpeg(jpeg.clone()));

    let p = load_frame(jpeg.clone(), (32, 18), 10_000).unwrap();
    assert!(!p.is_pass_through());
    assert_eq!((p.frame().width(), p.frame().height()), (32, 18));

    let turned = Bytes::from(with_orientation(&jpeg, 3));
    assert!(!load_frame(turned, (64, 36), 10_000)
        .unwrap()
        .is_pass_through());
    assert_eq!(
        load_frame(jpeg, (64, 36), 100).unwrap_err().kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn letterbox_oriented_matches_orient_then_letterbox() {
    // 40x20: left half red, right half blue, a green dot top-left.
    let mut img = RgbImage::filled(40, 20, [0, 0, 255]);
    for y in 0..20 {
        for x in 0..20 {
            let c = if x < 4 && y < 4 {
                [0, 255, 0]
            } else {
                [255, 0, 0]
            };
            let i = (y * 40 + x) * 3;
            img.data[i..i + 3].copy_from_slice(&c);
        }
    }
    for o in 1..=8 {
        let slow = letterbox(&orient(img.clone(), o), (60, 60)).unwrap();
        let fast = letterbox_oriented(&img, o, (60, 60)).unwrap();
        assert_eq!((fast.width, fast.height), (60, 60));
        // The same picture up to rounding and clamping in the two resampling
        // passes (done in the other order when turned by 90°), at sharp edges.
        let diffs: Vec<i32> = slow
            .data
            .iter()
            .zip(&fast.data)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .collect();
        let close = diffs.iter().filter(|&&d| d <= 2).count();
        assert!(diffs.iter().all(|&d| d <= 24), "orientation {o}");
        assert!(
            close * 100 >= diffs.len() * 98,
            "orientation {o}: {close}/{}",
            diffs.len()
        );
    }
}
