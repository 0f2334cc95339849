// framecast viewer: one stream, one transport at a time, drawn into a <canvas>
// with its metadata boxes drawn over the very frame they belong to.
//
// Test hooks live on window.framecast (see `state` below).

import { TRANSPORTS, DEFAULT_TRANSPORT, FALLBACK_TRANSPORT } from './transports.js';
import { MetadataStore, boxesOf, drawBoxes, metadataFor } from './overlay.js';

const STATS_EVERY_MS = 250;
const INFO_EVERY_MS = 2000;
const FPS_WINDOW_MS = 2000;
/** How long a frame may wait for metadata that is on its way (see expectsMetadata). */
const HOLD_FOR_METADATA_MS = 60;

const base = location.pathname.replace(/\/streams\/[^/]*\/?$/, '');
const streamId = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() || '');
const streamPath = `${base}/streams/${encodeURIComponent(streamId)}`;
const wsOrigin = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;

const $ = (id) => document.getElementById(id);
const canvas = $('video');
const ctx2d = canvas.getContext('2d');
const message = $('message');
const statusPill = $('status');
const showBoxes = $('show-boxes');
const stage = $('stage');
const notice = $('notice');

/** Test and debugging hook. */
const state = {
  streamId,
  transport: null,
  status: 'starting',
  framesShown: 0,
  lastSeq: null,
  width: 0,
  height: 0,
  fps: 0,
  latencyMs: null,
  bitrateKbps: 0,
  metadataSeen: 0,
  boxesDrawn: 0,
  decodeErrors: 0,
  /** Pictures drawn with metadata of their own (seq, or RTP time for WebRTC). */
  exactBoxFrames: 0,
  /** Why the page left WebRTC for MJPEG, if it did. */
  fallback: null,
  /** The transport's own figures (WebRTC getStats(), HLS buffer), see ctx.stats. */
  transportStats: null,
};
window.framecast = state;

const metadata = new MetadataStore();
let session = null; // { transport, handle, id }
let sessionCounter = 0;
let current = null; // { source, info } on screen, kept to redraw when late metadata arrives
let frameTimes = [];
let byteLog = [];
let latencyEma = null;
let lastHadOwnMetadata = false;
let missingText = ''; // set while the server says there is no such stream

// ---------- drawing ----------

function draw(source, info) {
  const w = source.displayWidth || source.videoWidth || source.width;
  const h = source.displayHeight || source.videoHeight || source.height;
  if (!w || !h) return;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  ctx2d.drawImage(source, 0, 0, w, h);
  const { msg, exact } = showBoxes.checked ? metadataFor(metadata, info) : { msg: null, exact: false };
  if (msg) state.boxesDrawn += drawBoxes(ctx2d, boxesOf(msg), w, h);
  if (msg && exact) {
    state.exactBoxFrames += 1;
    if (!Number.isFinite(info.seq)) state.lastSeq = msg.seq; // WebRTC: the pts named the frame
  }
  state.width = w;
  state.height = h;
  if (typeof state.onDraw === 'function') state.onDraw(info, ctx2d, msg);
}

// A frame whose metadata is expected but not here yet waits for it, briefly.
let held = null; // { source, info, timer }

function present(source, info) {
  if (held) release(); // never let a newer frame starve an older one
  if (expectsMetadata(info)) {
    held = { source, info, timer: setTimeout(release, HOLD_FOR_METADATA_MS) };
    return;
  }
  show(source, info);
}

/** True when the frames before this one each had metadata of their own but this one has none yet. */
function expectsMetadata(info) {
  return lastHadOwnMetadata && Number.isFinite(info.seq) && !metadata.has(info.seq);
}

function release() {
  if (!held) return;
  const { source, info, timer } = held;
  held = null;
  clearTimeout(timer);
  show(source, info);
}

function show(source, info) {
  const previous = current;
  current = { source, info };
  lastHadOwnMetadata = Number.isFinite(info.seq) && metadata.has(info.seq);
  draw(source, info);
  if (previous && previous.source !== source && typeof previous.source.close === 'function') {
    previous.source.close();
  }
  state.framesShown += 1;
  if (Number.isFinite(info.seq)) state.lastSeq = info.seq;
  if (Number.isFinite(info.tsUs)) {
    const lat = Date.now() - info.tsUs / 1000;
    latencyEma = latencyEma == null ? lat : latencyEma * 0.8 + lat * 0.2;
    state.latencyMs = Math.round(latencyEma);
  }
  const now = performance.now();
  frameTimes.push(now);
  if (state.status !== 'live') setStatus('live', '');
  if (now - lastStatsAt >= STATS_EVERY_MS) renderStats();
}

// JPEG decoding, latest wins: while one frame decodes, newer ones replace the waiting one.
let waiting = null;
let decoding = false;

function onJpeg(sessionId, blob, info) {
  waiting = { sessionId, blob, info };
  if (!decoding) pump();
}

async function pump() {
  decoding = true;
  while (waiting) {
    const { sessionId, blob, info } = waiting;
    waiting = null;
    try {
      const bitmap = await createImageBitmap(blob);
      if (session && session.id === sessionId) present(bitmap, info);
      else bitmap.close();
    } catch {
      state.decodeErrors += 1;
    }
  }
  decoding = false;
}

// ---------- metadata ----------

let metaPanelDirty = false;

function onMetadata(msg) {
  if (!metadata.add(msg)) return;
  state.metadataSeen += 1;
  metaPanelDirty = true;
  if (held && msg.seq === held.info.seq) release();
  // Metadata may arrive after its frame was drawn: redraw that frame with its boxes.
  else if (current && metadataFor(metadata, current.info).msg === msg) {
    draw(current.source, current.info);
  }
}

function renderMetadataPanel() {
  if (!metaPanelDirty || !metadata.last) return;
  metaPanelDirty = false;
  const m = metadata.last;
  $('meta-count').textContent = `${state.metadataSeen} message${state.metadataSeen === 1 ? '' : 's'}; latest for frame ${m.seq} · ${boxesOf(m).length} box(es)`;
  const pre = $('meta-json');
  pre.hidden = false;
  const text = JSON.stringify(m.data, null, 2) ?? 'null';
  pre.textContent = text.length > 4000 ? `${text.slice(0, 4000)}\n…` : text;
}

// ---------- status and stats ----------

function setStatus(kind, text) {
  state.status = kind;
  statusPill.className = `pill ${kind}`;
  statusPill.textContent = kind === 'live' ? 'live' : kind === 'error' ? 'reconnecting' : 'connecting';
  if (kind === 'live') {
    message.hidden = true;
    return;
  }
  if (text) message.textContent = missingText || text;
  message.hidden = false;
}

let lastStatsAt = 0;

function renderStats() {
  const now = performance.now();
  lastStatsAt = now;
  frameTimes = frameTimes.filter((t) => now - t <= FPS_WINDOW_MS);
  byteLog = byteLog.filter(([t]) => now - t <= FPS_WINDOW_MS);
  state.fps = frameTimes.length >= 2
    ? (frameTimes.length - 1) / ((frameTimes[frameTimes.length - 1] - frameTimes[0]) / 1000)
    : 0;
  const bytes = byteLog.reduce((a, [, n]) => a + n, 0);
  state.bitrateKbps = Math.round((bytes * 8) / (FPS_WINDOW_MS / 1000) / 1000);
  $('fps').textContent = state.fps ? state.fps.toFixed(1) : '–';
  $('latency').textContent = state.latencyMs == null ? '–' : `${state.latencyMs} ms`;
  $('size').textContent = state.width ? `${state.width}×${state.height}` : '–';
  $('bitrate').textContent = state.bitrateKbps >= 1000
    ? `${(state.bitrateKbps / 1000).toFixed(1)} Mbit/s`
    : `${state.bitrateKbps} kbit/s`;
  $('shown').textContent = state.framesShown.toLocaleString('en-US');
  $('seq').textContent = state.lastSeq == null ? '–' : String(state.lastSeq);
  renderTransportStats();
  renderMetadataPanel();
}

let transportRows = null; // { label: text } from the transport, see ctx.stats

function renderTransportStats() {
  const dl = $('transport-stats');
  if (!transportRows) {
    dl.hidden = true;
    return;
  }
  const entries = Object.entries(transportRows);
  if (dl.children.length !== entries.length * 2) {
    dl.replaceChildren(...entries.flatMap(([k]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      return [dt, document.createElement('dd')];
    }));
  }
  entries.forEach(([k, v], i) => {
    dl.children[i * 2].textContent = k;
    dl.children[i * 2 + 1].textContent = v;
  });
  dl.hidden = false;
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = !text;
}

async function refreshInfo() {
  try {
    const r = await fetch(`${base}/api/streams/${encodeURIComponent(streamId)}`, { cache: 'no-store' });
    const j = await r.json();
    if (!r.ok) {
      $('source').textContent = j.error || `HTTP ${r.status}`;
      if (r.status === 404) {
        missingText = `No stream "${streamId}" yet; waiting for it to appear…`;
        if (state.status !== 'live') {
          message.hidden = false;
          message.textContent = missingText;
        }
      }
      return;
    }
    missingText = '';
    $('source').textContent = j.source || '–';
    $('server-fps').textContent = Number(j.fps || 0).toFixed(1);
    const v = j.viewers || {};
    const n = (k) => Number(v[k] || 0);
    $('viewers').textContent = String(n('mjpeg') + n('ws') + n('webrtc') + n('hls'));
    $('viewers-detail').textContent = `MJPEG ${n('mjpeg')} · WS ${n('ws')} · WebRTC ${n('webrtc')} · HLS ${n('hls')}`;
  } catch {
    $('source').textContent = 'server unreachable';
  }
}

// ---------- transports ----------

function contextFor(id) {
  return {
    streamUrl: (rest = '') => `${streamPath}${rest}`,
    wsUrl: (rest = '') => `${wsOrigin}${streamPath}${rest}`,
    jpeg: (blob, info) => onJpeg(id, blob, info || {}),
    picture: (source, info) => {
      if (session && session.id === id) present(source, info || {});
    },
    metadata: (msg) => {
      if (session && session.id === id) onMetadata(msg);
    },
    bytes: (n) => byteLog.push([performance.now(), n]),
    status: (kind, text) => {
      if (session && session.id === id) setStatus(kind, text);
    },
    // A <video> (or other element) the transport plays into: kept in the page, invisible,
    // because browsers may not decode or report frames of a detached video.
    attach: (el) => {
      if (!session || session.id !== id) return;
      el.classList.add('source-media');
      stage.append(el);
      session.attached.push(el);
    },
    // Transport-specific figures for the stats panel: rows {label: text}, and raw values.
    stats: (rows, raw) => {
      if (!session || session.id !== id) return;
      transportRows = rows;
      state.transportStats = raw ?? null;
    },
    // This transport cannot work here: fall back to MJPEG and say why.
    fail: (reason) => {
      setTimeout(() => {
        if (!session || session.id !== id || session.transport === FALLBACK_TRANSPORT) return;
        const from = session.label;
        state.fallback = `${from}: ${reason}`;
        selectTransport(FALLBACK_TRANSPORT, { notice: `${from} did not work here (${reason}); playing MJPEG instead.` });
      }, 0);
    },
  };
}

function endSession() {
  if (!session) return;
  session.handle.close();
  for (const el of session.attached) el.remove();
  session = null;
}

async function selectTransport(id, { notice: note = '' } = {}) {
  const t = TRANSPORTS.find((x) => x.id === id && x.load) || TRANSPORTS.find((x) => x.id === DEFAULT_TRANSPORT);
  endSession();
  showNotice(note);
  if (!note) state.fallback = null;
  transportRows = null;
  state.transportStats = null;
  if (held) {
    clearTimeout(held.timer);
    if (typeof held.source.close === 'function') held.source.close();
    held = null;
  }
  sessionCounter += 1;
  const sid = sessionCounter;
  session = { id: sid, transport: t.id, label: t.label, handle: { close() {} }, attached: [] };
  state.transport = t.id;
  frameTimes = [];
  byteLog = [];
  latencyEma = null;
  state.latencyMs = null;
  for (const b of document.querySelectorAll('#transports button')) {
    b.setAttribute('aria-pressed', String(b.dataset.transport === t.id));
  }
  const url = new URL(location.href);
  url.searchParams.set('transport', t.id);
  history.replaceState(null, '', url);
  setStatus('connecting', `Connecting over ${t.label}…`);
  let mod;
  try {
    mod = await t.load();
  } catch (e) {
    if (session && session.id === sid) contextFor(sid).fail(`could not load its script (${e.message})`);
    return;
  }
  if (!session || session.id !== sid) return; // another choice was made meanwhile
  session.handle = mod.open(contextFor(sid));
}

function buildTransportButtons() {
  const group = $('transports');
  for (const t of TRANSPORTS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = t.label;
    b.dataset.transport = t.id;
    b.setAttribute('aria-pressed', 'false');
    if (!t.load) {
      b.disabled = true;
      b.title = t.note || 'not available yet';
    } else {
      b.addEventListener('click', () => selectTransport(t.id));
    }
    group.append(b);
  }
}

// ---------- start ----------

document.title = `framecast · ${streamId}`;
$('title').textContent = streamId;
showBoxes.addEventListener('change', () => current && draw(current.source, current.info));
buildTransportButtons();
setInterval(renderStats, STATS_EVERY_MS);
setInterval(refreshInfo, INFO_EVERY_MS);
refreshInfo();
selectTransport(new URLSearchParams(location.search).get('transport') || DEFAULT_TRANSPORT);
