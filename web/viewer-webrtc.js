// The viewer's WebRTC transport: wraps web/transport-webrtc.js (the WHEP player, whose
// protocol logic stays there) and adds what the viewer page needs:
//   - every decoded picture handed over from requestVideoFrameCallback with its RTP
//     timestamp, so metadata boxes are drawn over the frame they belong to;
//   - getStats() figures for the stats panel (fps, bitrate, jitter-buffer delay);
//   - ctx.fail(reason) when WebRTC cannot work here (no RTCPeerConnection, a WHEP
//     error, a failed connection, no picture in FIRST_FRAME_MS while the stream has
//     frames), so the viewer falls back.
// A WHEP 404 (the stream does not exist yet) and an idle stream are not failures: it waits.

import { start } from './transport-webrtc.js';

export const id = 'webrtc';
export const label = 'WebRTC';

/** No decoded picture this long after the answer: give up on WebRTC. */
const FIRST_FRAME_MS = 6000;
const STATS_EVERY_MS = 1000;
const RETRY_MS = 1000;

export function open(ctx) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  ctx.attach(video);
  let session = null;
  let closed = false;
  let statsTimer = null;
  let firstFrameTimer = null;
  let retryTimer = null;
  let lastBytes = 0;
  let frames = 0;

  const fail = (why) => {
    if (closed) return;
    stop();
    ctx.fail(why);
  };

  const onFrame = (_now, meta) => {
    if (closed) return;
    frames += 1;
    if (frames === 1) {
      clearTimeout(firstFrameTimer);
      ctx.status('live', 'WebRTC (H.264)');
    }
    const rtp = meta && Number.isFinite(meta.rtpTimestamp) ? meta.rtpTimestamp : undefined;
    ctx.picture(video, {
      rtp,
      ptsMs: rtp === undefined ? undefined : Math.floor(rtp / 90),
      width: (meta && meta.width) || video.videoWidth,
      height: (meta && meta.height) || video.videoHeight,
    });
    video.requestVideoFrameCallback(onFrame);
  };

  async function sampleStats() {
    if (!session) return;
    let s;
    try {
      s = await session.stats();
    } catch {
      return;
    }
    ctx.bytes(Math.max(0, s.bytesReceived - lastBytes));
    lastBytes = s.bytesReceived;
    ctx.stats(
      {
        'Decoder fps': s.fps ? s.fps.toFixed(1) : '–',
        'Jitter buffer': s.jitterBufferMs ? `${Math.round(s.jitterBufferMs)} ms` : '–',
        'Frames decoded': s.framesDecoded.toLocaleString('en-US'),
      },
      s,
    );
  }

  async function connect() {
    if (typeof window.RTCPeerConnection !== 'function') {
      fail('this browser has no WebRTC (RTCPeerConnection)');
      return;
    }
    if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) {
      fail('this browser cannot report decoded video frames (requestVideoFrameCallback)');
      return;
    }
    ctx.status('connecting', 'Connecting over WebRTC…');
    let s;
    try {
      s = await start(video, ctx.streamUrl(''), (m) => !closed && ctx.metadata(m));
    } catch (e) {
      if (closed) return;
      if (/^WHEP 404/.test(e.message)) {
        ctx.status('error', 'WebRTC: no such stream yet; retrying…');
        retryTimer = setTimeout(connect, RETRY_MS);
        return;
      }
      fail(e.message);
      return;
    }
    if (closed) {
      s.stop();
      return;
    }
    session = s;
    ctx.status('connecting', 'WebRTC connected; waiting for the first picture…');
    video.requestVideoFrameCallback(onFrame);
    firstFrameTimer = setTimeout(noPictureYet, FIRST_FRAME_MS);
    s.pc.addEventListener('connectionstatechange', () => {
      const st = s.pc.connectionState;
      if (st === 'failed') fail('the WebRTC connection failed');
      else if (st === 'disconnected') ctx.status('error', 'WebRTC connection interrupted…');
    });
    statsTimer = setInterval(sampleStats, STATS_EVERY_MS);
  }

  // No picture yet: a failure only if the stream itself has had frames meanwhile.
  async function noPictureYet() {
    let idle = false;
    try {
      const api = ctx.streamUrl('').replace(/\/streams\/([^/]*)$/, '/api/streams/$1');
      const r = await fetch(api, { cache: 'no-store' });
      const j = await r.json();
      idle = r.ok && (j.last_frame_age_ms == null || j.last_frame_age_ms > FIRST_FRAME_MS);
    } catch {
      // cannot tell: treat as a WebRTC failure
    }
    if (closed || frames > 0) return;
    if (idle) {
      ctx.status('connecting', 'WebRTC connected; the stream has no new frames yet…');
      firstFrameTimer = setTimeout(noPictureYet, FIRST_FRAME_MS);
    } else {
      fail(`no picture within ${FIRST_FRAME_MS / 1000} s`);
    }
  }

  function stop() {
    closed = true;
    clearInterval(statsTimer);
    clearTimeout(firstFrameTimer);
    clearTimeout(retryTimer);
    if (session) session.stop();
    session = null;
  }

  connect();
  return { video, close: stop };
}
