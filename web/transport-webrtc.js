// WebRTC transport: WHEP playback of a stream's H.264 track, metadata over a DataChannel.
//
// Two ways to use it:
//   - as a viewer transport module (see transports.js): `open(ctx)`;
//   - on its own: `await start(videoEl, streamIdOrUrl, onMetadata)` returns
//     {pc, stop(), stats()}; also exposed as `window.FramecastWebRTC.start`.
//
// WHEP: POST the offer (application/sdp) to /streams/{id}/whep, 201 with the
// answer and a Location; DELETE that Location to end. The server is ICE-lite
// and puts its candidates in the answer, so the offer is sent at once without
// waiting for ICE gathering (and no trickle PATCH is needed).

export const id = 'webrtc';
export const label = 'WebRTC';

/** Start playing `stream` (an id, or the /streams/{id} URL) into `video`. */
export async function start(video, stream, onMetadata) {
  const base = /^(https?:)?\//.test(stream) ? stream.replace(/\/$/, '') : `/streams/${encodeURIComponent(stream)}`;
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  let location = null;
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    const dc = pc.createDataChannel('metadata');
    dc.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return; // not JSON: ignore
      }
      if (onMetadata && msg && typeof msg === 'object') onMetadata(msg);
    };
    pc.ontrack = (ev) => {
      video.muted = true;
      video.playsInline = true;
      video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      video.play().catch(() => {});
    };
    await pc.setLocalDescription(await pc.createOffer());
    const res = await fetch(`${base}/whep`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    const body = await res.text();
    if (res.status !== 201) {
      let why = body;
      try {
        why = JSON.parse(body).error || body;
      } catch {}
      throw new Error(`WHEP ${res.status}: ${why}`);
    }
    location = new URL(res.headers.get('Location'), res.url).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
  } catch (e) {
    pc.close();
    throw e;
  }
  const sampler = statsSampler(pc);
  return {
    pc,
    location,
    stats: sampler,
    async stop() {
      pc.close();
      try {
        await fetch(location, { method: 'DELETE' });
      } catch {}
    },
  };
}

/** A function returning {framesDecoded, fps, bitrateKbps, jitterBufferMs, bytesReceived, width, height}. */
function statsSampler(pc) {
  let prev = null;
  return async function stats() {
    const report = await pc.getStats();
    let v = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') v = s;
    });
    if (!v) return { framesDecoded: 0, fps: 0, bitrateKbps: 0, jitterBufferMs: 0, bytesReceived: 0 };
    const now = v.timestamp;
    const bytes = v.bytesReceived || 0;
    const bitrateKbps = prev && now > prev.t ? ((bytes - prev.bytes) * 8) / (now - prev.t) : 0;
    prev = { t: now, bytes };
    const emitted = v.jitterBufferEmittedCount || 0;
    return {
      framesDecoded: v.framesDecoded || 0,
      fps: v.framesPerSecond || 0,
      bitrateKbps,
      jitterBufferMs: emitted ? (1000 * (v.jitterBufferDelay || 0)) / emitted : 0,
      bytesReceived: bytes,
      width: v.frameWidth || 0,
      height: v.frameHeight || 0,
    };
  };
}

/** Viewer transport: plays into a hidden <video> and hands each decoded picture to the viewer. */
export function open(ctx) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  let session = null;
  let closed = false;
  let timer = null;
  let lastBytes = 0;

  const onFrame = (_now, meta) => {
    if (closed) return;
    // The RTP timestamp is the frame's pts at 90 kHz: it ties metadata (pts_ms) to this picture.
    const ptsMs = meta && meta.rtpTimestamp !== undefined ? Math.round(meta.rtpTimestamp / 90) : undefined;
    ctx.picture(video, { ptsMs, width: meta ? meta.width : video.videoWidth, height: meta ? meta.height : video.videoHeight });
    video.requestVideoFrameCallback(onFrame);
  };

  ctx.status('connecting', 'Connecting over WebRTC…');
  start(video, ctx.streamUrl(''), (m) => ctx.metadata(m))
    .then((s) => {
      if (closed) return s.stop();
      session = s;
      if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
      video.addEventListener('playing', () => ctx.status('live', 'WebRTC (H.264)'), { once: true });
      s.pc.addEventListener('connectionstatechange', () => {
        const st = s.pc.connectionState;
        if (st === 'failed' || st === 'disconnected') ctx.status('error', `WebRTC connection ${st}`);
      });
      timer = setInterval(async () => {
        const st = await s.stats();
        ctx.bytes(Math.max(0, st.bytesReceived - lastBytes));
        lastBytes = st.bytesReceived;
      }, 1000);
    })
    .catch((e) => ctx.status('error', `WebRTC failed: ${e.message}`));

  return {
    video,
    stats: () => (session ? session.stats() : Promise.resolve(null)),
    close() {
      closed = true;
      clearInterval(timer);
      if (session) session.stop();
    },
  };
}

if (typeof window !== 'undefined') window.FramecastWebRTC = { start, open };
