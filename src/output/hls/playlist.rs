//! The live media playlist, written as text.
//!
//! `m3u8-rs` models classic HLS but has no LL-HLS tags (`EXT-X-PART`,
//! `EXT-X-PART-INF`, `EXT-X-PRELOAD-HINT`, `EXT-X-SERVER-CONTROL`), and
//! parts must sit between segments in a precise order, so the playlist is
//! written directly; the tests parse it back with `m3u8-rs`.

use std::fmt::Write;

use super::segmenter::{seconds, Segment, Segmenter};

/// How many complete segments at the end of the playlist list their parts.
const SEGMENTS_WITH_PARTS: usize = 2;

/// The playlist for the segmenter's current state. `None` before any
/// complete segment exists (players give up on empty live playlists).
pub fn render(s: &Segmenter) -> Option<String> {
    let listed: Vec<&Segment> = s.listed().collect();
    let first = listed.first()?;
    let cfg = s.config();
    let part_target = cfg.part_target.as_secs_f64();
    let target = listed
        .iter()
        .map(|seg| seconds(seg.duration()).round() as u64)
        .chain(std::iter::once(
            cfg.segment_target.as_secs_f64().ceil() as u64
        ))
        .max()
        .unwrap_or(2)
        .max(1);
    let mut out = String::with_capacity(2048);
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{target}\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3}\n\
         #EXT-X-PART-INF:PART-TARGET={part_target:.3}\n\
         #EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n",
        part_target * 3.0,
        first.msn,
        first.disc_seq,
    );
    let with_parts = listed.len().saturating_sub(SEGMENTS_WITH_PARTS);
    let mut init = None;
    for (i, seg) in listed.iter().enumerate() {
        segment_head(&mut out, seg, i == 0, &mut init);
        if i >= with_parts {
            parts(&mut out, seg);
        }
        let _ = write!(
            out,
            "#EXTINF:{:.5},\nseg-{}.m4s\n",
            seconds(seg.duration()),
            seg.msn
        );
    }
    if let Some(open) = s.open().filter(|o| !o.is_empty()) {
        segment_head(&mut out, open, false, &mut init);
        parts(&mut out, open);
    }
    let (msn, part) = s.preload_hint();
    let _ = writeln!(
        out,
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-{msn}.{part}.m4s\""
    );
    Some(out)
}

fn segment_head(out: &mut String, seg: &Segment, first: bool, init: &mut Option<u64>) {
    if seg.discontinuity && !first {
        out.push_str("#EXT-X-DISCONTINUITY\n");
    }
    if *init != Some(seg.init.generation) {
        let _ = writeln!(out, "#EXT-X-MAP:URI=\"init-{}.mp4\"", seg.init.generation);
        *init = Some(seg.init.generation);
    }
    let _ = writeln!(
        out,
        "#EXT-X-PROGRAM-DATE-TIME:{}",
        rfc3339_ms(seg.start_unix_us)
    );
}

fn parts(out: &mut String, seg: &Segment) {
    for (i, p) in seg.parts.iter().enumerate() {
        let _ = write!(
            out,
            "#EXT-X-PART:DURATION={:.5},URI=\"part-{}.{i}.m4s\"",
            seconds(p.duration),
            seg.msn
        );
        out.push_str(if p.independent {
            ",INDEPENDENT=YES\n"
        } else {
            "\n"
        });
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for µs since the Unix epoch.
pub fn rfc3339_ms(unix_us: u64) -> String {
    let secs = unix_us / 1_000_000;
    let ms = (unix_us / 1000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_ms;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123_456), "2000-02-29T00:00:00.123Z");
        assert_eq!(
            rfc3339_ms(1_795_000_000_000_000),
            "2026-11-18T11:06:40.000Z"
        );
    }
}
