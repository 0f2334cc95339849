//! Fragmented MP4 for HLS: the init segment (ftyp + moov with avcC) and
//! media fragments (moof + mdat), built with `mp4-atom`.
//!
//! H.264 arrives in Annex B form (start codes); MP4 samples hold the same
//! NAL units with 4-byte big-endian length prefixes instead. Parameter sets
//! and access unit delimiters are kept out of the samples: they live in the
//! init segment's avcC (sample entry `avc1`).

use bytes::{BufMut, Bytes, BytesMut};
use mp4_atom::{
    Avc1, Avcc, Dinf, Dref, Encode, Ftyp, Hdlr, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex, Mvhd,
    Stbl, Stco, Stsd, Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, Url, Visual, Vmhd,
};

use crate::error::{Error, Result};

/// Media timescale: 90 kHz, as for RTP video.
pub const TIMESCALE: u32 = 90_000;

/// The track id of the one video track.
const TRACK_ID: u32 = 1;

/// Sample flags of a sync sample (sample_depends_on = 2: depends on no other).
const FLAGS_SYNC: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample (depends on others, is_non_sync).
const FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// NAL unit types that matter here.
pub mod nal {
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// The NAL units of an Annex B bytestream, without their start codes.
pub fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &(_, begin)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |&(sc, _)| sc);
        let mut nal = &data[begin..end];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        if !nal.is_empty() {
            out.push(nal);
        }
    }
    out
}

/// The type of a NAL unit (its low five bits).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The SPS and PPS an H.264 stream was encoded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSets {
    /// Sequence parameter set NAL unit.
    pub sps: Vec<u8>,
    /// Picture parameter set NAL unit.
    pub pps: Vec<u8>,
}

impl ParamSets {
    /// The first SPS and PPS found in an access unit, if it has both.
    pub fn find(annex_b: &[u8]) -> Option<ParamSets> {
        let nals = nal_units(annex_b);
        let sps = nals.iter().find(|n| nal_type(n) == nal::SPS)?;
        let pps = nals.iter().find(|n| nal_type(n) == nal::PPS)?;
        Some(ParamSets {
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        })
    }

    /// The RFC 6381 codec string, e.g. `avc1.42c01f`.
    pub fn codec(&self) -> String {
        match self.sps.get(1..4) {
            Some(p) => format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2]),
            None => "avc1.42c01f".to_string(),
        }
    }
}

/// An access unit as an MP4 sample: length-prefixed NAL units, no SPS/PPS/AUD.
pub fn sample_data(annex_b: &[u8]) -> Bytes {
    let nals: Vec<&[u8]> = nal_units(annex_b)
        .into_iter()
        .filter(|n| !matches!(nal_type(n), nal::SPS | nal::PPS | nal::AUD))
        .collect();
    let len: usize = nals.iter().map(|n| n.len() + 4).sum();
    let mut out = BytesMut::with_capacity(len);
    for n in nals {
        out.put_u32(n.len() as u32);
        out.put_slice(n);
    }
    out.freeze()
}

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
    /// Length-prefixed NAL units (see [`sample_data`]).
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
    fn splits_annex_b_with_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        let nals = nal_units(&data);
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        assert!(nal_units(&[1, 2, 3]).is_empty());
        assert!(nal_units(&[]).is_empty());
    }

    #[test]
    fn samples_are_length_prefixed_without_parameter_sets() {
        let data = [0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 4, 5];
        let s = sample_data(&data);
        assert_eq!(&s[..], &[0, 0, 0, 3, 0x65, 4, 5]);
        let p = ParamSets::find(&data).unwrap();
        assert_eq!(p.sps, vec![0x67, 1]);
        assert_eq!(p.pps, vec![0x68, 3]);
    }

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
