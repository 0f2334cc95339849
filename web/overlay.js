// Metadata kept by frame seq, and the boxes it describes drawn over a frame.
//
// Box convention (see web/README.md): a metadata message's `data.boxes` is a list of
//   {"x": 10, "y": 20, "w": 100, "h": 80, "label": "cat", "score": 0.93, "color": "#ff0"}
// in pixel coordinates of the frame it belongs to (origin top-left). `label`,
// `score` and `color` are optional.

/** How many frames back a box may still be drawn when its own frame had none. */
export const CARRY_FRAMES = 15;
/** Metadata messages kept in memory. */
const KEEP = 240;
/** For pictures without a seq (e.g. a future <video>): metadata younger than this counts. */
const UNSEQUENCED_MAX_AGE_MS = 500;

/** Remembers recent metadata messages by the seq of the frame they belong to. */
export class MetadataStore {
  constructor(carryFrames = CARRY_FRAMES) {
    this.carry = carryFrames;
    this.bySeq = new Map();
    this.last = null;
    this.lastAt = 0;
  }

  /** Keep `msg` (`{seq, pts_ms, data}`); returns false when it is not usable. */
  add(msg, now = performance.now()) {
    if (!msg || typeof msg !== 'object' || !Number.isFinite(msg.seq)) return false;
    this.bySeq.set(msg.seq, msg);
    this.last = msg;
    this.lastAt = now;
    if (this.bySeq.size > KEEP) {
      const oldest = Math.min(...this.bySeq.keys());
      this.bySeq.delete(oldest);
    }
    return true;
  }

  /** Whether frame `seq` has metadata of its own. */
  has(seq) {
    return this.bySeq.has(seq);
  }

  /**
   * The metadata to draw over frame `seq`: its own if there is some, otherwise the
   * most recent message for an earlier frame at most `carry` frames back. Without a
   * seq, the latest message if it is fresh.
   */
  forFrame(seq, now = performance.now()) {
    if (!Number.isFinite(seq)) {
      return this.last && now - this.lastAt <= UNSEQUENCED_MAX_AGE_MS ? this.last : null;
    }
    const exact = this.bySeq.get(seq);
    if (exact) return exact;
    let best = null;
    for (const [s, m] of this.bySeq) {
      if (s < seq && seq - s <= this.carry && (!best || s > best.seq)) best = m;
    }
    return best;
  }
}

/** RTP timestamps are 32-bit at 90 kHz: they wrap every 13 h 15 min. */
const RTP_WRAP = 2 ** 32;
/** A picture without metadata of its own shows the latest earlier boxes up to this old (in pts). */
export const CARRY_MS = 500;

/** `a - b` in 90 kHz ticks, across the RTP wrap (the shorter way round). */
function rtpDiff(a, b) {
  const d = (((a - b) % RTP_WRAP) + RTP_WRAP) % RTP_WRAP;
  return d >= RTP_WRAP / 2 ? d - RTP_WRAP : d;
}

/**
 * The metadata to draw over a picture given what is known about it (`info`):
 * - `seq` (JPEG transports): by frame number, see `forFrame`;
 * - `rtp` (WebRTC): the server sends frame pts as the RTP time (pts at 90 kHz), and
 *   a message's `pts_ms` is that pts in whole ms, so the message whose pts_ms*90 is
 *   0..89 ticks before the picture's RTP time is its own; otherwise the latest earlier
 *   one at most `CARRY_MS` older;
 * - `ptsMs` (HLS, estimated): the latest message at or before it, at most `CARRY_MS` older;
 * - nothing: the latest message if fresh.
 * Returns `{msg, exact}`; msg is null when nothing fits.
 */
export function metadataFor(store, info, now = performance.now()) {
  if (Number.isFinite(info.seq)) {
    const msg = store.forFrame(info.seq, now);
    return { msg, exact: !!msg && msg.seq === info.seq };
  }
  if (Number.isFinite(info.rtp) || Number.isFinite(info.ptsMs)) {
    const ahead = Number.isFinite(info.rtp)
      ? (m) => rtpDiff(info.rtp, (m.pts_ms * 90) % RTP_WRAP) // ticks the picture is past m
      : (m) => (info.ptsMs - m.pts_ms) * 90;
    let best = null;
    let bestAhead = Infinity;
    for (const m of store.bySeq.values()) {
      if (!Number.isFinite(m.pts_ms)) continue;
      const d = ahead(m);
      if (d >= 0 && d <= CARRY_MS * 90 && d < bestAhead) {
        best = m;
        bestAhead = d;
      }
    }
    return { msg: best, exact: !!best && Number.isFinite(info.rtp) && bestAhead < 90 };
  }
  return { msg: store.forFrame(undefined, now), exact: false };
}

/** The well-formed boxes of a metadata message (others are skipped, never thrown on). */
export function boxesOf(msg) {
  const boxes = msg && msg.data && msg.data.boxes;
  if (!Array.isArray(boxes)) return [];
  return boxes.filter((b) => b && ['x', 'y', 'w', 'h'].every((k) => Number.isFinite(b[k])));
}

const PALETTE = ['#4fb3ff', '#3ecf8e', '#f5b94a', '#ff6b6b', '#b18cff', '#ff8fd8', '#5ee0e0', '#d6e65a'];

function colorFor(box) {
  if (typeof box.color === 'string' && box.color.length <= 64) return box.color;
  const label = String(box.label ?? '');
  let h = 0;
  for (let i = 0; i < label.length; i++) h = (h * 31 + label.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/** Black or white text, whichever reads better on `fill` (a canvas-normalised colour). */
function textOn(fill) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(fill);
  if (!m) return '#fff';
  const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? '#000' : '#fff';
}

function labelText(box) {
  const label = box.label == null ? '' : String(box.label).slice(0, 64);
  const score = Number.isFinite(box.score) ? `${Math.round(box.score * 100)}%` : '';
  return [label, score].filter(Boolean).join(' ');
}

/** Draw `boxes` on a 2D context whose pixels are the frame's pixels; returns how many were drawn. */
export function drawBoxes(ctx, boxes, frameW, frameH) {
  const line = Math.max(2, Math.round(Math.min(frameW, frameH) / 240));
  const fontPx = Math.max(12, Math.round(Math.min(frameW, frameH) / 32));
  ctx.save();
  ctx.lineWidth = line;
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const b of boxes) {
    ctx.strokeStyle = '#4fb3ff';
    ctx.fillStyle = '#4fb3ff';
    const color = colorFor(b);
    ctx.strokeStyle = color; // an invalid colour string is ignored by the canvas
    ctx.fillStyle = color;
    ctx.strokeRect(b.x, b.y, b.w, b.h);
    const text = labelText(b);
    if (!text) continue;
    const pad = Math.round(fontPx / 4);
    const tw = ctx.measureText(text).width + pad * 2;
    const th = fontPx + pad * 2;
    const ty = b.y - th >= 0 ? b.y - th : b.y; // above the box, or inside at the top edge
    ctx.fillRect(b.x - line / 2, ty, tw, th);
    ctx.fillStyle = textOn(ctx.fillStyle);
    ctx.fillText(text, b.x - line / 2 + pad, ty + pad);
  }
  ctx.restore();
  return boxes.length;
}
