// MJPEG transport: reads /streams/{id}/mjpeg with fetch() and splits the
// multipart/x-mixed-replace body itself, so every part's X-Frame-Seq and
// X-Frame-Time-Us headers reach the viewer (frame-exact boxes, latency).
// A plain <img src=".../mjpeg"> shows the same stream but hides those headers.
// Metadata comes over a WebSocket opened with ?frames=0 (binary frames, if any, are ignored).

export const id = 'mjpeg';
export const label = 'MJPEG';

const RETRY_MS = 1000;
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
/** A part header block larger than this means the body is not what we think. */
const MAX_HEADER_BYTES = 16 * 1024;

function indexOf(hay, needle, from) {
  const last = hay.length - needle.length;
  outer: for (let i = from; i <= last; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function parseHeaders(text) {
  const h = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return h;
}

/** Splits a multipart/x-mixed-replace byte stream into (headers, body) parts. */
export class MultipartParser {
  constructor(boundary, onPart) {
    this.delim = new TextEncoder().encode(`--${boundary}`);
    this.onPart = onPart;
    this.buf = new Uint8Array(0);
  }

  push(chunk) {
    this.buf = concat(this.buf, chunk);
    while (this.next());
  }

  next() {
    const hEnd = indexOf(this.buf, CRLFCRLF, 0);
    if (hEnd < 0) {
      if (this.buf.length > MAX_HEADER_BYTES) throw new Error('malformed multipart stream');
      return false;
    }
    const headers = parseHeaders(new TextDecoder('latin1').decode(this.buf.subarray(0, hEnd)));
    const start = hEnd + 4;
    const len = parseInt(headers['content-length'], 10);
    let end;
    let resume;
    if (Number.isFinite(len) && len >= 0) {
      if (this.buf.length < start + len) return false;
      end = start + len;
      resume = end;
    } else {
      const d = indexOf(this.buf, this.delim, start);
      if (d < 0) return false;
      end = d >= 2 && this.buf[d - 2] === 13 && this.buf[d - 1] === 10 ? d - 2 : d;
      resume = d;
    }
    const body = this.buf.slice(start, end);
    this.buf = this.buf.slice(resume);
    this.onPart(headers, body);
    return true;
  }
}

function boundaryOf(contentType) {
  const m = /boundary="?([^";]+)"?/i.exec(contentType || '');
  if (!m) throw new Error(`not a multipart stream (${contentType || 'no content type'})`);
  return m[1];
}

function num(v) {
  const n = Number(v);
  return v != null && v !== '' && Number.isFinite(n) ? n : undefined;
}

async function errorText(r) {
  try {
    const j = await r.json();
    return j.error || `HTTP ${r.status}`;
  } catch {
    return `HTTP ${r.status}`;
  }
}

/** Metadata over a WebSocket opened with ?frames=0; returns a function that closes it. */
export function metadataSocket(ctx) {
  let ws = null;
  let closed = false;
  let retry = null;
  function connect() {
    ws = new WebSocket(ctx.wsUrl('/ws?frames=0'));
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      try {
        const msg = JSON.parse(ev.data);
        if (msg && msg.type !== 'frame') ctx.metadata(msg);
      } catch {
        // not JSON: ignore
      }
    };
    ws.onclose = () => {
      if (!closed) retry = setTimeout(connect, RETRY_MS);
    };
  }
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    ws.close();
  };
}

export function open(ctx) {
  const abort = new AbortController();
  let closed = false;
  let retry = null;

  async function run() {
    ctx.status('connecting', 'Connecting over MJPEG…');
    try {
      const r = await fetch(ctx.streamUrl('/mjpeg'), { signal: abort.signal, cache: 'no-store' });
      if (!r.ok) throw new Error(await errorText(r));
      const parser = new MultipartParser(boundaryOf(r.headers.get('content-type')), (h, body) => {
        const info = { seq: num(h['x-frame-seq']), tsUs: num(h['x-frame-time-us']) };
        ctx.jpeg(new Blob([body], { type: 'image/jpeg' }), info);
      });
      ctx.status('connecting', 'Connected; waiting for the first frame…');
      const reader = r.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        ctx.bytes(value.length);
        parser.push(value);
      }
      throw new Error('the server ended the stream');
    } catch (e) {
      if (closed) return;
      ctx.status('error', `MJPEG: ${e.message}; reconnecting…`);
      retry = setTimeout(run, RETRY_MS);
    }
  }

  run();
  const stopMetadata = metadataSocket(ctx);
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      abort.abort();
      stopMetadata();
    },
  };
}
