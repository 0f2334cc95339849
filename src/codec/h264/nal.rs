//! The one H.264 bitstream toolkit: NAL units of an Annex B bytestream,
//! Annex B to MP4's length-prefixed form, parameter sets, and the RFC 6381
//! codec string. Pure functions over bytes; the encoder, the decoder, the
//! fMP4 writer, HLS and WebRTC all use these and keep no splitter of their own.

use bytes::{BufMut, Bytes, BytesMut};

/// Coded slice of a non-IDR picture.
pub const NON_IDR: u8 = 1;
/// Coded slice of an IDR picture.
pub const IDR: u8 = 5;
/// Sequence parameter set.
pub const SPS: u8 = 7;
/// Picture parameter set.
pub const PPS: u8 = 8;
/// Access unit delimiter.
pub const AUD: u8 = 9;

/// The NAL units of an Annex B bytestream, without their start codes (3 or
/// 4 bytes) and without trailing zero bytes. Bytes before the first start
/// code are not a NAL unit and are skipped.
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits {
        data,
        next: find_start(data, 0),
    }
}

/// Iterator over the NAL units of an Annex B bytestream; see [`nal_units`].
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Where the next NAL unit's header byte is (just after a start code).
    next: Option<usize>,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let begin = self.next?;
            self.next = find_start(self.data, begin);
            let end = self.next.map_or(self.data.len(), |n| n - 3);
            let mut nal = &self.data[begin..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
    }
}

/// The index just after the first `00 00 01` at or after `from`.
fn find_start(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|i| from + i + 3)
}

/// The type of a NAL unit (the low five bits of its header byte).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// The NAL unit types in an Annex B bytestream.
pub fn nal_types(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
    nal_units(data).map(nal_type)
}

/// Whether an Annex B access unit holds a coded picture (a slice).
pub fn has_picture(data: &[u8]) -> bool {
    nal_types(data).any(|t| (NON_IDR..=IDR).contains(&t))
}

/// An access unit as an MP4 sample: NAL units with 4-byte big-endian length
/// prefixes, without parameter sets and delimiters (those live in avcC).
pub fn to_length_prefixed(annex_b: &[u8]) -> Bytes {
    let keep = |n: &&[u8]| !matches!(nal_type(n), SPS | PPS | AUD);
    let len: usize = nal_units(annex_b).filter(keep).map(|n| n.len() + 4).sum();
    let mut out = BytesMut::with_capacity(len);
    for n in nal_units(annex_b).filter(keep) {
        out.put_u32(n.len() as u32);
        out.put_slice(n);
    }
    out.freeze()
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
        let sps = nal_units(annex_b).find(|n| nal_type(n) == SPS)?;
        let pps = nal_units(annex_b).find(|n| nal_type(n) == PPS)?;
        Some(ParamSets {
            sps: sps.to_vec(),
            pps: pps.to_vec(),
        })
    }

    /// The parameter sets in Annex B form (4-byte start codes), to put in
    /// front of an IDR that lacks them.
    pub fn to_annex_b(&self) -> Vec<u8> {
        [&[0, 0, 0, 1][..], &self.sps, &[0, 0, 0, 1], &self.pps].concat()
    }

    /// The RFC 6381 codec string, e.g. `avc1.42c01f`.
    pub fn codec(&self) -> String {
        match self.sps.get(1..4) {
            Some(p) => format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2]),
            None => "avc1.42c01f".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_annex_b_with_three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5, 0, 0,
        ];
        let nals: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        assert_eq!(nal_types(&data).collect::<Vec<_>>(), vec![SPS, PPS, IDR]);
        assert!(has_picture(&data));
        assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1, 0, 0, 1]).count(), 0, "empty units");
    }

    #[test]
    fn samples_are_length_prefixed_without_parameter_sets() {
        let data = [0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 4, 5];
        let s = to_length_prefixed(&data);
        assert_eq!(&s[..], &[0, 0, 0, 3, 0x65, 4, 5]);
        let p = ParamSets::find(&data).unwrap();
        assert_eq!(p.sps, vec![0x67, 1]);
        assert_eq!(p.pps, vec![0x68, 3]);
        assert_eq!(
            p.to_annex_b(),
            vec![0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 3]
        );
        assert!(!has_picture(&p.to_annex_b()));
    }

    #[test]
    fn codec_string_from_sps() {
        let p = ParamSets {
            sps: vec![0x67, 0x42, 0xc0, 0x1f],
            pps: vec![0x68],
        };
        assert_eq!(p.codec(), "avc1.42c01f");
    }
}
