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
// and info = {seq, tsUs, ptsMs, width, height}, any of which may be missing
// (tsUs = publish time in µs since the Unix epoch, for the latency).
//
// To add a transport: write web/transport-NAME.js, embed it in src/http/pages.rs,
// and give its entry below a `load`.

export const TRANSPORTS = [
  { id: 'ws', label: 'WebSocket', load: () => import('./transport-ws.js') },
  { id: 'mjpeg', label: 'MJPEG', load: () => import('./transport-mjpeg.js') },
  // WHEP: POST an SDP offer to /streams/{id}/whep, play the H.264 track, metadata over the DataChannel.
  { id: 'webrtc', label: 'WebRTC', load: null, note: 'WebRTC (WHEP) playback is coming' },
  // HLS: /streams/{id}/hls/index.m3u8 (fMP4) in a <video>.
  { id: 'hls', label: 'HLS', load: null, note: 'HLS playback is coming' },
];

/** The default transport. */
export const DEFAULT_TRANSPORT = 'ws';
