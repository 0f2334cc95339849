// The viewer's HLS transport: wraps web/transport-hls.js (window.FramecastHLS: the
// browser's own player on Safari, its Low-Latency HLS player on Media Source
// Extensions elsewhere) and hands each picture to the viewer from
// requestVideoFrameCallback, with stats for the panel (lag behind the live edge,
// buffered seconds). Metadata comes over a WebSocket opened with ?frames=0.
//
// Boxes over HLS are best effort: the video's media time cannot be tied to a
// stream pts here (the MSE player appends in 'sequence' mode, so media time
// starts at 0), so the pts on screen is estimated from the newest metadata
// message (its pts_ms, advanced by the time since it arrived) minus how far
// playback is behind: (live edge - currentTime) + EDGE_DELAY_MS, the time a frame
// takes from the stream to the end of the buffer (the part's fetch, ~60 ms).

import './transport-hls.js';
import { metadataSocket } from './transport-mjpeg.js';

export const id = 'hls';
export const label = 'HLS';

/**
 * How old the end of the buffer is: a part is fetchable within ~60 ms of its last
 * frame and appended at once, and buffered.end is that frame's time. Measured: with
 * 350 ms here boxes were 9 frames (300 ms) late (tests/browser_viewer_rtc.rs).
 */
const EDGE_DELAY_MS = 60;
const STATS_EVERY_MS = 1000;

/** The end of what can be played now, in media seconds (the live edge as far as we know). */
function liveEdge(video) {
  const b = video.buffered;
  if (b.length) return b.end(b.length - 1);
  const s = video.seekable;
  return s && s.length ? s.end(s.length - 1) : video.currentTime;
}

export function open(ctx) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  ctx.attach(video);
  let closed = false;
  let player = null;
  let newest = null; // { ptsMs, at } of the newest metadata message
  let frames = 0;
  const streamId = decodeURIComponent(ctx.streamUrl('').split('/').pop());

  const behindMs = () => Math.max(0, (liveEdge(video) - video.currentTime) * 1000) + EDGE_DELAY_MS;

  const onFrame = (now, meta) => {
    if (closed) return;
    frames += 1;
    if (frames === 1) ctx.status('live', 'HLS');
    const ptsMs = newest ? newest.ptsMs + (performance.now() - newest.at) - behindMs() : undefined;
    ctx.picture(video, {
      ptsMs: ptsMs === undefined ? undefined : Math.max(0, Math.round(ptsMs)),
      approximate: true,
      width: (meta && meta.width) || video.videoWidth,
      height: (meta && meta.height) || video.videoHeight,
    });
    video.requestVideoFrameCallback(onFrame);
  };

  ctx.status('connecting', 'Loading the HLS playlist…');
  try {
    player = window.FramecastHLS.start(video, streamId);
  } catch (e) {
    ctx.status('error', `HLS: ${e.message}`);
    return { video, close() {} };
  }
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  const stopMetadata = metadataSocket({
    ...ctx,
    metadata(msg) {
      if (Number.isFinite(msg.pts_ms) && (!newest || msg.pts_ms >= newest.ptsMs)) {
        newest = { ptsMs: msg.pts_ms, at: performance.now() };
      }
      ctx.metadata(msg);
    },
  });
  // Bytes fetched for the playlist and segments, for the bitrate (Resource Timing).
  const bytesSeen = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.name.includes('/hls/')) ctx.bytes(e.transferSize || e.encodedBodySize || 0);
    }
  });
  try {
    bytesSeen.observe({ type: 'resource' });
  } catch {
    // no Resource Timing: the bitrate stays unknown
  }
  const statsTimer = setInterval(() => {
    const lag = liveEdge(video) - video.currentTime;
    const b = video.buffered;
    let buffered = 0;
    for (let i = 0; i < b.length; i++) buffered += b.end(i) - b.start(i);
    ctx.stats(
      {
        Player: player.mode === 'native' ? 'native' : 'MSE (LL-HLS)',
        'Behind live edge': `${lag.toFixed(2)} s`,
        Buffered: `${buffered.toFixed(1)} s`,
        'Media time': `${video.currentTime.toFixed(1)} s`,
      },
      { mode: player.mode, lagS: lag, bufferedS: buffered, currentTime: video.currentTime },
    );
    performance.clearResourceTimings();
  }, STATS_EVERY_MS);
  video.addEventListener('error', () => {
    if (!closed && player.mode === 'native' && !window.MediaSource) {
      ctx.status('error', `HLS: ${video.error ? video.error.message || video.error.code : 'error'}`);
    }
  });

  return {
    video,
    close() {
      closed = true;
      clearInterval(statsTimer);
      stopMetadata();
      bytesSeen.disconnect();
      player.stop();
    },
  };
}
