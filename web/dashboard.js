// framecast dashboard: polls /api/streams every second and keeps one card per stream.
// Cards are updated in place so a live preview never reconnects on a refresh.

const POLL_MS = 1000;
// Browsers allow ~6 HTTP/1.1 connections per host; an MJPEG preview holds one
// for good. Past this many streams the previews become refreshed snapshots.
const MAX_MJPEG_PREVIEWS = 3;
const PREVIEW_FPS = 5;
const SNAPSHOT_EVERY_MS = 1000;

// Paths are relative to where the page is served, so a reverse-proxy prefix works.
const base = location.pathname.replace(/\/+$/, '');
const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + base;

const grid = document.getElementById('streams');
const empty = document.getElementById('empty');
const updated = document.getElementById('updated');
document.getElementById('example-origin').textContent = location.origin + base;

/** Test and debugging hook: the last poll's JSON and how many polls succeeded. */
const state = { polls: 0, errors: 0, streams: [] };
window.framecastDashboard = state;

const cards = new Map(); // id -> card object

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function streamUrl(id, rest = '') {
  return `${base}/streams/${encodeURIComponent(id)}${rest}`;
}

function stat(label) {
  const box = el('div', 'stat');
  box.append(el('div', 'k', label));
  const v = el('div', 'v', '–');
  box.append(v);
  return { box, v };
}

function link(text, href, cls = 'chip') {
  const a = el('a', cls, text);
  a.href = href;
  return a;
}

function copyButton(text, value) {
  const b = el('button', 'chip', text);
  b.type = 'button';
  b.title = value;
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      b.textContent = 'copied';
    } catch {
      window.prompt('Copy this address', value);
    }
    setTimeout(() => { b.textContent = text; }, 1200);
  });
  return b;
}

function titled(e, title) {
  e.title = title;
  return e;
}

function createCard(id) {
  const card = el('article', 'card');
  card.dataset.streamId = id;

  const preview = el('a', 'preview');
  preview.href = streamUrl(id);
  preview.title = 'Open the viewer';
  const img = el('img');
  img.alt = `live preview of ${id}`;
  const nopic = el('div', 'nopic', 'waiting for the first frame…');
  preview.append(img, nopic);

  const body = el('div', 'body');
  const title = el('div', 'title');
  const h2 = el('h2', '', id);
  const pill = el('span', 'pill connecting', '…');
  title.append(h2, pill);
  const source = el('div', 'source', '');

  const stats = el('div', 'stats');
  const fps = stat('fps');
  fps.v.classList.add('fps');
  const size = stat('size');
  const frames = stat('frames');
  const dropped = stat('dropped');
  stats.append(fps.box, size.box, frames.box, dropped.box);

  const viewers = el('div', 'viewers');
  const counts = {};
  for (const [key, label] of [['mjpeg', 'MJPEG'], ['ws', 'WebSocket'], ['webrtc', 'WebRTC'], ['hls', 'HLS']]) {
    const span = el('span');
    const b = el('b', '', '0');
    span.append(`${label} `, b);
    counts[key] = b;
    viewers.append(span);
  }

  const links = el('div', 'links');
  links.append(
    link('Open viewer', streamUrl(id), 'chip primary'),
    link('MJPEG', streamUrl(id, '/mjpeg')),
    link('Snapshot', streamUrl(id, '/snapshot.jpg')),
    copyButton('WebSocket', `${wsBase}/streams/${encodeURIComponent(id)}/ws`),
    titled(link('WebRTC', streamUrl(id, '?transport=webrtc')), 'Open the viewer on WebRTC (WHEP)'),
    titled(link('HLS', streamUrl(id, '?transport=hls')), 'Open the viewer on HLS'),
    titled(link('m3u8', streamUrl(id, '/hls/index.m3u8')), 'The HLS playlist (Safari, VLC, ffplay, a CDN)'),
    copyButton('WHEP URL', `${location.origin}${streamUrl(id, '/whep')}`),
    link('JSON', `${base}/api/streams/${encodeURIComponent(id)}`),
  );

  body.append(title, source, stats, viewers, links);
  card.append(preview, body);

  const c = { id, card, img, nopic, pill, source, fps, size, frames, dropped, counts, mode: null, timer: null };
  img.addEventListener('error', () => {
    img.classList.remove('ok');
    retryPreview(c);
  });
  img.addEventListener('load', () => img.classList.add('ok'));
  return c;
}

function fmtInt(n) {
  return Number(n || 0).toLocaleString('en-US');
}

function fmtAge(ms) {
  if (ms == null) return 'no frames';
  if (ms < 2000) return 'live';
  const s = Math.round(ms / 1000);
  return s < 120 ? `idle ${s} s` : `idle ${Math.round(s / 60)} min`;
}

function setPreviewMode(c, mode, hasFrame) {
  if (!hasFrame) {
    c.nopic.hidden = false;
    return;
  }
  if (c.mode === mode) return;
  stopPreview(c);
  c.mode = mode;
  if (mode === 'mjpeg') {
    c.img.src = streamUrl(c.id, `/mjpeg?fps=${PREVIEW_FPS}`);
  } else {
    refreshSnapshot(c);
    c.timer = setInterval(() => refreshSnapshot(c), SNAPSHOT_EVERY_MS);
  }
}

function stopPreview(c) {
  clearInterval(c.timer);
  c.timer = null;
  c.mode = null;
  c.img.removeAttribute('src');
}

function refreshSnapshot(c) {
  // Load off-screen first so the card never flashes an empty picture.
  const next = new Image();
  next.onload = () => { c.img.src = next.src; };
  next.src = streamUrl(c.id, `/snapshot.jpg?t=${Date.now()}`);
}

function retryPreview(c) {
  // The MJPEG connection broke (server restart, stream gone): the next poll reconnects.
  if (c.mode === 'mjpeg') c.mode = null;
}

function updateCard(c, s, mode) {
  const hasFrame = s.latest_seq != null;
  setPreviewMode(c, mode, hasFrame);
  const live = s.last_frame_age_ms != null && s.last_frame_age_ms < 2000;
  c.pill.className = `pill ${live ? 'live' : hasFrame ? 'idle' : 'connecting'}`;
  c.pill.textContent = fmtAge(s.last_frame_age_ms);
  c.source.textContent = s.source || '';
  c.fps.v.textContent = Number(s.fps || 0).toFixed(1);
  c.fps.v.dataset.value = String(s.fps || 0);
  c.size.v.textContent = s.width ? `${s.width}×${s.height}` : '–';
  c.frames.v.textContent = fmtInt(s.frames_in);
  c.dropped.v.textContent = fmtInt(s.frames_dropped);
  for (const k of Object.keys(c.counts)) {
    c.counts[k].textContent = String((s.viewers && s.viewers[k]) || 0);
  }
}

function render(list) {
  const mode = list.length <= MAX_MJPEG_PREVIEWS ? 'mjpeg' : 'snapshot';
  const seen = new Set();
  list.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  for (const s of list) {
    seen.add(s.id);
    let c = cards.get(s.id);
    if (!c) {
      c = createCard(s.id);
      cards.set(s.id, c);
    }
    updateCard(c, s, mode);
    grid.append(c.card); // keeps DOM order sorted; moving a node does not reload its image
  }
  for (const [id, c] of cards) {
    if (!seen.has(id)) {
      stopPreview(c);
      c.card.remove();
      cards.delete(id);
    }
  }
  empty.hidden = list.length > 0;
}

async function poll() {
  try {
    const r = await fetch(`${base}/api/streams`, { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const list = await r.json();
    state.streams = list;
    state.polls += 1;
    render(list);
    updated.textContent = `${list.length} stream${list.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    state.errors += 1;
    updated.textContent = `server unreachable (${e.message}); retrying…`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
