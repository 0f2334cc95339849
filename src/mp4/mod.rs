//! MP4: the fragmented-MP4 writer ([`fmp4`]) that HLS serves from and that
//! recording will write files with; the demuxer for the file source will
//! live here too.

pub mod fmp4;
