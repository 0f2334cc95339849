// The transports a viewer can pick. Each is a small module loaded on demand.
//
// A transport module exports `id`, `label` and `open(ctx) -> { close() }`, where ctx is
//   ctx.streamUrl(rest)   http(s) URL under /streams/{id}, e.g. ctx.streamUrl('/mjpeg')
//   ctx.wsUrl(rest)       ws(s) URL under /streams/{id}
//   ctx.jpeg(blob, info)  hand over one JPEG frame; the viewer decodes it (latest wins)
//   ctx.picture(src, info) hand over an already decoded picture (ImageBitmap, <video>, VideoFrame)
//                         — what WebRTC and HLS will use, e.g. from requestVideoFrameCallback
//   ctx.metadata(msg)     a metadata message {type:"metadata", stream, seq, pts_ms, data}
//   ctx.bytes(n)          n bytes received (for the bitrate)
//   ctx.status(state, text)  state is 'connecting' | 'live' | 'error'
//   ctx.attach(el)        keep a <video> the transport plays into in the page (invisible)
//   ctx.stats(rows, raw)  transport figures for the stats panel: rows {label: text}
//   ctx.fail(reason)      this transport cannot work here: the viewer falls back to MJPEG
// and info = {seq, tsUs, ptsMs, rtp, width, height}, any of which may be missing
// (tsUs = publish time in µs since the Unix epoch, for the latency; rtp = the RTP
// timestamp of a WebRTC picture, which is the frame's pts at 90 kHz).
//
// To add a transport: write web/transport-NAME.js, embed it in src/http/pages.rs,
// and give its entry below a `load`.

export const TRANSPORTS = [
  // WHEP: POST an SDP offer to /streams/{id}/whep, play the H.264 track, metadata over the DataChannel.
  { id: 'webrtc', label: 'WebRTC', load: () => import('./viewer-webrtc.js') },
  { id: 'ws', label: 'WebSocket', load: () => import('./transport-ws.js') },
  { id: 'mjpeg', label: 'MJPEG', load: () => import('./transport-mjpeg.js') },
  // HLS: /streams/{id}/hls/index.m3u8 (fMP4, LL-HLS) in a <video>; metadata over a WebSocket.
  { id: 'hls', label: 'HLS', load: () => import('./viewer-hls.js') },
];

/** The default transport. */
export const DEFAULT_TRANSPORT = 'webrtc';
/** Where the viewer goes when a transport calls ctx.fail (plain HTTP: works everywhere). */
export const FALLBACK_TRANSPORT = 'mjpeg';
