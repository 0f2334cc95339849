//! Segmenter unit tests: synthetic access units and a simulated clock.

use std::time::Duration;

use super::*;
use crate::output::hls::playlist;

const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

/// A fake access unit: SPS/PPS/IDR when `key`, else one P slice.
fn au(i: u64, pts_ns: u64, key: bool, w: u32) -> AccessUnit {
    let mut d = Vec::new();
    if key {
        for n in [SPS, PPS] {
            d.extend_from_slice(&[0, 0, 0, 1]);
            d.extend_from_slice(n);
        }
        d.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, (i & 0xff) as u8]);
    } else {
        d.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9a, (i & 0xff) as u8]);
    }
    AccessUnit {
        data: d.into(),
        keyframe: key,
        pts: Duration::from_nanos(pts_ns),
        seq: i,
        width: w,
        height: 240,
        published_unix_us: 0,
    }
}

/// Push `n` frames at `fps` from frame `from`, keyframes every `gop` frames;
/// the clock is the frame's time plus 1 s.
fn feed(s: &mut Segmenter, from: u64, n: u64, fps: u64, gop: u64) -> Vec<Pushed> {
    (from..from + n)
        .map(|i| {
            let ns = i * 1_000_000_000 / fps;
            s.push(&au(i, ns, i % gop == 0, 320), 1_000_000 + ns / 1000)
        })
        .collect()
}

fn seg() -> Segmenter {
    Segmenter::new(SegmenterConfig {
        window: 3,
        keep_after: 1,
        ..Default::default()
    })
}

#[test]
fn segments_start_at_keyframes_and_last_about_the_target() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 7, 30, 60);
    let done: Vec<&Segment> = s.stored().collect();
    assert_eq!(done.len(), 3, "60-frame GOPs: 3 complete segments in 7 s");
    for (k, d) in done.iter().enumerate() {
        assert_eq!(d.frames(), 60, "segment {k}");
        assert!(d.parts[0].independent);
        assert_eq!(
            d.duration(),
            2 * 90_000,
            "segment {k}: exactly 2 s in ticks"
        );
        assert!(d.parts[1..].iter().all(|p| !p.independent));
    }
    assert_eq!(
        done.iter().map(|d| d.msn).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

#[test]
fn keyframes_mid_segment_do_not_cut_but_make_independent_parts() {
    let mut s = seg();
    // Keyframes every 15 frames (0.5 s): cut only once 1.5 s are in.
    feed(&mut s, 0, 30 * 5, 30, 15);
    let d = s.stored().next().unwrap();
    assert_eq!(d.frames(), 45);
    assert_eq!(d.parts.iter().filter(|p| p.independent).count(), 3);
}

#[test]
fn parts_stay_within_the_part_target() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 3, 30, 60);
    let d = s.stored().next().unwrap();
    assert_eq!(d.parts.len(), 10, "6-frame parts of 200 ms");
    for p in &d.parts {
        assert_eq!(p.frames, 6);
        assert_eq!(p.duration, 18_000);
        // The part is closed when its last frame arrives, not a frame later.
        assert_eq!(p.ready_us, p.last_frame_us);
    }
}

#[test]
fn asks_for_a_keyframe_when_the_target_passes_without_one() {
    let mut s = seg();
    let pushed = feed(&mut s, 0, 100, 30, 1000);
    let asks: Vec<usize> = pushed
        .iter()
        .enumerate()
        .filter(|(_, p)| p.want_keyframe)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(asks, vec![59], "asked once, one frame before 2 s");
    assert!(!s.has_segment());
}

#[test]
fn window_slides_and_media_sequence_follows() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 13, 30, 60);
    let stored: Vec<u64> = s.stored().map(|d| d.msn).collect();
    let listed: Vec<u64> = s.listed().map(|d| d.msn).collect();
    assert_eq!(stored, vec![2, 3, 4, 5]);
    assert_eq!(listed, vec![3, 4, 5]);
    let text = playlist::render(&s).unwrap();
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:3\n"), "{text}");
    assert!(!text.contains("seg-2.m4s"));
    assert!(
        matches!(s.segment(2), Lookup::Ready(_)),
        "kept after leaving"
    );
    assert!(matches!(s.segment(1), Lookup::Gone));
    assert!(matches!(s.segment(6), Lookup::Wait), "the open one");
    assert!(matches!(s.segment(7), Lookup::Gone));
}

#[test]
fn restart_makes_a_discontinuity_with_the_same_init_when_params_agree() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 5, 30, 60);
    // The source restarts: pts back to 0.
    feed(&mut s, 0, 30 * 5, 30, 60);
    let d: Vec<&Segment> = s.stored().collect();
    let first_after = d.iter().find(|x| x.discontinuity).expect("a discontinuity");
    assert_eq!(first_after.disc_seq, 1);
    assert_eq!(first_after.init.generation, 0);
    let text = playlist::render(&s).unwrap();
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
}

#[test]
fn size_change_makes_a_new_init_and_a_discontinuity() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 3, 30, 60);
    for i in 90..200u64 {
        let ns = i * 1_000_000_000 / 30;
        s.push(&au(i, ns, i % 60 == 0 || i == 90, 640), ns / 1000);
    }
    let gens: Vec<u64> = s.stored().map(|d| d.init.generation).collect();
    assert!(gens.contains(&0) && gens.contains(&1), "{gens:?}");
    let text = playlist::render(&s).unwrap();
    assert!(text.contains("#EXT-X-MAP:URI=\"init-1.mp4\""), "{text}");
    assert!(text.contains("#EXT-X-DISCONTINUITY\n"), "{text}");
    assert_eq!(s.init(Some(1)).unwrap().width, 640);
    assert_eq!(s.init(None).unwrap().generation, 1);
}

#[test]
fn reset_forgets_segments_but_not_numbers() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 5, 30, 60);
    let next = s.open_msn();
    s.reset();
    assert!(!s.has_segment());
    assert!(playlist::render(&s).is_none(), "never an empty playlist");
    feed(&mut s, 0, 30 * 3, 30, 60);
    let d = s.stored().next().unwrap();
    assert_eq!(
        d.msn,
        next + 1,
        "the half-made segment's number is not reused"
    );
    assert_eq!(d.disc_seq, 1);
    assert_eq!(d.init.generation, 1, "new init name after a reset");
}

#[test]
fn jittery_timing_keeps_a_monotonic_gapless_timeline() {
    let mut s = seg();
    let mut ms = 0u64;
    for i in 0..400u64 {
        ms += [20, 33, 50, 33, 90, 10][i as usize % 6];
        s.push(&au(i, ms * 1_000_000, i % 50 == 0, 320), ms * 1000);
    }
    let mut end = None;
    for d in s.stored() {
        let mut cur = std::io::Cursor::new(&d.parts[0].data[..]);
        let moof = <mp4_atom::Moof as mp4_atom::Decode>::decode(&mut cur).unwrap();
        let base = moof.traf[0].tfdt.as_ref().unwrap().base_media_decode_time;
        if let Some(e) = end {
            assert_eq!(base, e, "segment {} starts where the last ended", d.msn);
        }
        end = Some(base + d.duration());
        for p in &d.parts {
            assert!(p.duration <= 18_000 + 90, "a part of {} ticks", p.duration);
        }
    }
    assert!(end.is_some());
}

#[test]
fn reload_readiness_and_limits() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 3, 30, 60);
    // msn 0 done; msn 1 open with 30 frames = 5 parts.
    assert_eq!(s.open_msn(), 1);
    assert_eq!(s.reload(0, None), Reload::Ready);
    assert_eq!(s.reload(1, None), Reload::Wait);
    assert_eq!(s.reload(1, Some(4)), Reload::Ready);
    assert_eq!(s.reload(1, Some(5)), Reload::Wait);
    assert_eq!(s.reload(1, Some(8)), Reload::TooFar);
    assert_eq!(s.reload(3, None), Reload::Wait);
    assert_eq!(s.reload(4, None), Reload::TooFar);
    assert!(matches!(s.part(1, 4), Lookup::Ready(_)));
    assert!(matches!(s.part(1, 5), Lookup::Wait));
    assert!(matches!(s.part(1, 9), Lookup::Gone));
    assert!(matches!(s.part(0, 99), Lookup::Gone));
    assert_eq!(s.preload_hint(), (1, 5));
}

#[test]
fn playlist_has_ll_hls_tags_and_parses() {
    let mut s = seg();
    feed(&mut s, 0, 30 * 4 + 7, 30, 60);
    let text = playlist::render(&s).unwrap();
    for tag in [
        "#EXT-X-TARGETDURATION:2\n",
        "#EXT-X-PART-INF:PART-TARGET=0.200\n",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600\n",
        "#EXT-X-INDEPENDENT-SEGMENTS\n",
        "#EXT-X-MAP:URI=\"init-0.mp4\"\n",
        "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z\n",
        "#EXT-X-PART:DURATION=0.20000,URI=\"part-2.0.m4s\",INDEPENDENT=YES\n",
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-2.1.m4s\"\n",
    ] {
        assert!(text.contains(tag), "missing {tag:?} in\n{text}");
    }
    let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("m3u8-rs parses it");
    assert_eq!(parsed.media_sequence, 0);
    assert_eq!(parsed.segments.len(), 2);
    assert!((parsed.segments[0].duration - 2.0).abs() < 1e-3);
    assert_eq!(parsed.segments[1].uri, "seg-1.m4s");
}

/// Real H.264 from openh264: `n` frames of `w` x `h`, an IDR every `gop`.
fn encode(n: u64, w: usize, h: usize, gop: u64) -> Vec<AccessUnit> {
    use openh264::encoder::{Encoder, EncoderConfig, FrameType};
    use openh264::formats::YUVBuffer;
    use openh264::OpenH264API;
    let cfg = EncoderConfig::new()
        .skip_frames(false)
        .scene_change_detect(false);
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), cfg).expect("encoder");
    (0..n)
        .map(|i| {
            let mut yuv = vec![0u8; w * h * 3 / 2];
            let (y, uv) = yuv.split_at_mut(w * h);
            y.fill((i * 7 % 220) as u8 + 16);
            uv.fill((i * 3 % 200) as u8 + 28);
            if i % gop == 0 {
                enc.force_intra_frame();
            }
            let bs = enc
                .encode(&YUVBuffer::from_vec(yuv, w, h))
                .expect("encodes");
            AccessUnit {
                data: bs.to_vec().into(),
                keyframe: matches!(bs.frame_type(), FrameType::IDR),
                pts: Duration::from_nanos(i * 1_000_000_000 / 30),
                seq: i,
                width: w as u32,
                height: h as u32,
                published_unix_us: 0,
            }
        })
        .collect()
}

/// ffprobe's view of a file: (codec, width, height, frames, duration s),
/// the duration running from the first packet's pts to the last one's end.
fn ffprobe(path: &std::path::Path) -> Option<(String, u32, u32, u32, f64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args([
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    Some((
        get("codec_name"),
        get("width").parse().ok()?,
        get("height").parse().ok()?,
        get("nb_read_frames").parse().ok()?,
        {
            let num = |k: &str| -> Vec<f64> {
                let p = format!("{k}=");
                text.lines()
                    .filter_map(|l| l.strip_prefix(p.as_str()))
                    .filter_map(|d| d.parse().ok())
                    .collect()
            };
            let (pts, dur) = (num("pts_time"), num("duration_time"));
            pts.last()? - pts.first()? + dur.last().copied().unwrap_or(0.0)
        },
    ))
}

#[test]
fn real_h264_segments_probe_as_h264_with_the_pushed_frames() {
    if std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("FRAMECAST_REQUIRE_E2E").as_deref() != Ok("1"),
            "ffprobe is required"
        );
        eprintln!("SKIP: ffprobe not found");
        return;
    }
    let mut s = seg();
    for a in encode(150, 160, 96, 60) {
        s.push(&a, 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let segs: Vec<&Segment> = s.stored().collect();
    assert_eq!(segs.len(), 2);
    for d in segs {
        let path = dir.path().join(format!("s{}.mp4", d.msn));
        let mut bytes = d.init.data.to_vec();
        for p in &d.parts {
            bytes.extend_from_slice(&p.data);
        }
        std::fs::write(&path, bytes).unwrap();
        let (codec, w, h, frames, dur) = ffprobe(&path).expect("ffprobe output");
        assert_eq!((codec.as_str(), w, h), ("h264", 160, 96));
        assert_eq!(d.frames(), 60, "segment {} in the segmenter", d.msn);
        assert_eq!(frames, 60, "segment {}", d.msn);
        assert!((dur - 2.0).abs() < 0.01, "segment {} lasts {dur}", d.msn);
    }
    // A single part on its own (after the init) decodes too.
    let first = s.stored().next().unwrap();
    let path = dir.path().join("part.mp4");
    let mut bytes = first.init.data.to_vec();
    bytes.extend_from_slice(&first.parts[0].data);
    std::fs::write(&path, bytes).unwrap();
    let (_, _, _, frames, _) = ffprobe(&path).unwrap();
    assert_eq!(frames, first.parts[0].frames);
}

#[test]
fn parts_stay_within_target_with_skips_and_keyframe_requests() {
    let mut s = seg();
    let mut ns = 0u64;
    let mut x = 12345u64;
    let mut want = false;
    for i in 0..3000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (x >> 33) % 100;
        ns += match r {
            0..=9 => 20_000_000 + r * 1_000_000,
            10..=79 => 33_333_333 + (r % 7) * 1_000_000,
            80..=94 => 66_666_666,
            _ => 120_000_000 + r * 1_000_000,
        };
        let key = i == 0 || want || (x >> 20) % 97 == 0;
        let p = s.push(&au(i, ns, key, 320), ns / 1000);
        want = p.want_keyframe;
        for d in s.stored() {
            for (k, part) in d.parts.iter().enumerate() {
                assert!(
                    part.duration <= 18_000 + 90,
                    "frame {i}: part {}.{k} lasts {} ticks",
                    d.msn,
                    part.duration
                );
            }
        }
    }
}

#[test]
fn a_repeated_or_slightly_earlier_pts_is_not_a_restart() {
    let mut s = seg();
    for i in 0..200u64 {
        // Every 10th frame repeats the previous pts; every 15th is 10 ms early.
        let mut ns = i * 1_000_000_000 / 30;
        if i % 10 == 0 && i > 0 {
            ns = (i - 1) * 1_000_000_000 / 30;
        } else if i % 15 == 0 && i > 0 {
            ns -= 43_000_000;
        }
        s.push(&au(i, ns, i % 60 == 0, 320), ns / 1000);
    }
    assert!(s.stored().count() >= 2);
    assert!(s.stored().all(|d| !d.discontinuity && d.disc_seq == 0));
}
