//! Fragmented MP4 writing: the init segment (ftyp + moov with avcC) and
//! media fragments (moof + mdat), built with `mp4-atom`. HLS serves them;
//! recording will write them to files.
//!
//! H.264 arrives in Annex B form (start codes); MP4 samples hold the same
//! NAL units with 4-byte big-endian length prefixes instead
//! ([`crate::codec::h264::nal::to_length_prefixed`]). Parameter sets and
//! access unit delimiters are kept out of the samples: they live in the
//! init segment's avcC (sample entry `avc1`).

use bytes::{BufMut, Bytes, BytesMut};
use mp4_atom::{
    Avc1, Avcc, Dinf, Dref, Encode, Ftyp, Hdlr, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex, Mvhd,
    Stbl, Stco, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, Url, Visual, Vmhd,
};

use crate::codec::h264::nal::ParamSets;
use crate::error::{Error, Result};

/// Media timescale: 90 kHz, as for RTP video.
pub const TIMESCALE: u32 = 90_000;

/// The track id of the one video track.
const TRACK_ID: u32 = 1;

/// Sample flags of a sync sample (sample_depends_on = 2: depends on no other).
const FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample (depends on others, is_non_sync).
const FLAGS_NON_SYNC: u32 = 0x0101_0000;

fn mp4_err(what: &str, e: mp4_atom::Error) -> Error {
    Error::internal(format!("fMP4 {what}: {e}"))
}

/// The init segment for a `width` x `height` H.264 track.
pub fn init_segment(params: &ParamSets, width: u32, height: u32) -> Result<Bytes> {
    let avcc = Avcc::new(&params.sps, &params.pps)
        .map_err(|e| Error::bad_request(format!("H.264 parameter sets: {e}")))?;
    let ftyp = Ftyp {
        major_brand: b"iso5".into(),
        minor_version: 512,
        compatible_brands: vec![b"iso5".into(), b"iso6".into(), b"mp41".into()],
    };
    let visual = Visual {
        data_reference_index: 1,
        width: width.min(u16::MAX as u32) as u16,
        height: height.min(u16::MAX as u32) as u16,
        horizresolution: 72.into(),
        vertresolution: 72.into(),
        frame_count: 1,
        compressor: "framecast".into(),
        depth: 24,
    };
    let avc1 = Avc1 {
        visual,
        avcc,
        btrt: None,
        colr: None,
        pasp: None,
        taic: None,
        fiel: None,
        spatial: None,
    };
    let trak = Trak {
        tkhd: Tkhd {
            track_id: TRACK_ID,
            enabled: true,
            in_movie: true,
            width: (width.min(u16::MAX as u32) as u16).into(),
            height: (height.min(u16::MAX as u32) as u16).into(),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: TIMESCALE,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: b"vide".into(),
                name: "framecast video".into(),
            },
            minf: Minf {
                vmhd: Some(Vmhd::default()),
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![Url::default().into()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![avc1.into()],
                    },
                    stco: Some(Stco::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: TRACK_ID + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id: TRACK_ID,
                default_sample_description_index: 1,
                ..Default::default()
            }],
        }),
        trak: vec![trak],
        ..Default::default()
    };
    let mut buf = Vec::with_capacity(1024);
    ftyp.encode(&mut buf).map_err(|e| mp4_err("ftyp", e))?;
    moov.encode(&mut buf).map_err(|e| mp4_err("moov", e))?;
    Ok(buf.into())
}

/// One sample of a fragment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Length-prefixed NAL units (see [`crate::codec::h264::nal::to_length_prefixed`]).
    pub data: Bytes,
    /// Duration in [`TIMESCALE`] ticks.
    pub duration: u32,
    /// A sync sample (IDR).
    pub keyframe: bool,
}

/// One fragment, `moof` + `mdat`, holding `samples` from `base_decode_time`.
pub fn fragment(sequence: u32, base_decode_time: u64, samples: &[Sample]) -> Result<Bytes> {
    let entries: Vec<TrunEntry> = samples
        .iter()
        .map(|s| TrunEntry {
            duration: Some(s.duration),
            size: Some(s.data.len() as u32),
            flags: Some(if s.keyframe {
                FLAGS_SYNC
            } else {
                FLAGS_NON_SYNC
            }),
            cts: None,
        })
        .collect();
    let mut moof = Moof {
        mfhd: Mfhd {
            sequence_number: sequence,
        },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: TRACK_ID,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt {
                base_media_decode_time: base_decode_time,
            }),
            trun: vec![Trun {
                data_offset: Some(0),
                samples: entries.into(),
            }],
            ..Default::default()
        }],
    };
    // The data offset counts from the start of moof to the first sample byte:
    // encode once to learn moof's size (the field's width does not change).
    let mut probe = Vec::with_capacity(256);
    moof.encode(&mut probe).map_err(|e| mp4_err("moof", e))?;
    let offset = probe.len() + 8;
    if let Some(trun) = moof.traf[0].trun.first_mut() {
        trun.data_offset = Some(offset as i32);
    }
    let payload: usize = samples.iter().map(|s| s.data.len()).sum();
    let mut out = BytesMut::with_capacity(offset + payload);
    let mut head = Vec::with_capacity(probe.len());
    moof.encode(&mut head).map_err(|e| mp4_err("moof", e))?;
    out.put_slice(&head);
    // mdat written by hand so the samples are copied once, straight in.
    out.put_u32((8 + payload) as u32);
    out.put_slice(b"mdat");
    for s in samples {
        out.put_slice(&s.data);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_data_offset_points_at_the_first_sample() {
        let samples = vec![
            Sample {
                data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
                duration: 3000,
                keyframe: true,
            },
            Sample {
                data: Bytes::from_static(&[0, 0, 0, 2, 0x41, 9]),
                duration: 3000,
                keyframe: false,
            },
        ];
        let f = fragment(7, 9000, &samples).unwrap();
        let mut cur = std::io::Cursor::new(&f[..]);
        let moof = <Moof as mp4_atom::Decode>::decode(&mut cur).unwrap();
        assert_eq!(moof.mfhd.sequence_number, 7);
        let traf = &moof.traf[0];
        assert_eq!(traf.tfdt.as_ref().unwrap().base_media_decode_time, 9000);
        let off = traf.trun[0].data_offset.unwrap() as usize;
        assert_eq!(&f[off..off + 5], &[0, 0, 0, 1, 0x65]);
        assert_eq!(&f[off - 4..off], b"mdat");
        assert_eq!(f.len(), off + 11);
    }
}
