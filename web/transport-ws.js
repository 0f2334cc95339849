// WebSocket transport: binary message = one JPEG; with ?frameinfo=1 a text
// {"type":"frame",seq,pts_ms,ts_us,width,height} comes just before each binary frame.
// Other text messages are metadata. Reconnects on its own after a drop.

export const id = 'ws';
export const label = 'WebSocket';

const RETRY_MS = 1000;

export function open(ctx) {
  let ws = null;
  let closed = false;
  let retry = null;
  let info = null;

  function onText(text) {
    ctx.bytes(text.length);
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return; // not JSON: ignore rather than break the stream
    }
    if (msg && msg.type === 'frame') info = msg;
    else if (msg && typeof msg === 'object') ctx.metadata(msg);
  }

  function onBinary(blob) {
    ctx.bytes(blob.size);
    const i = info || {};
    info = null;
    ctx.jpeg(blob, { seq: i.seq, tsUs: i.ts_us, ptsMs: i.pts_ms, width: i.width, height: i.height });
  }

  function connect() {
    ctx.status('connecting', 'Connecting over WebSocket…');
    ws = new WebSocket(ctx.wsUrl('/ws?frameinfo=1'));
    ws.binaryType = 'blob';
    ws.onopen = () => ctx.status('connecting', 'Connected; waiting for the first frame…');
    ws.onmessage = (ev) => (typeof ev.data === 'string' ? onText(ev.data) : onBinary(ev.data));
    ws.onclose = (ev) => {
      if (closed) return;
      const why = ev.reason ? `: ${ev.reason}` : '';
      ctx.status('error', `WebSocket closed (${ev.code}${why}); reconnecting…`);
      retry = setTimeout(connect, RETRY_MS);
    };
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      if (ws) ws.close();
    },
  };
}
