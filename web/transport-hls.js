// framecast HLS transport: plays /streams/{id}/hls/index.m3u8 in a <video>.
//
//   const s = FramecastHLS.start(videoEl, 'cam');      // { mode, stop() }
//   FramecastHLS.start(videoEl, 'cam', { mse: true }); // force the MSE player
//   FramecastHLS.start(videoEl, 'cam', { native: true }); // try native first
//
// Where the browser plays HLS itself and is Safari/iOS (or has no Media
// Source Extensions at all), the video element gets the playlist URL.
// Chromium 156 answers canPlayType('application/vnd.apple.mpegurl') with
// 'maybe' but its built-in player stops with DEMUXER_ERROR_COULD_NOT_PARSE
// on this live LL-HLS playlist once it updates, so Chromium (and anything
// else with MSE) gets the player below; a native player that errors also
// falls back to it. Elsewhere (no CDN, no bundler here) a small
// Low-Latency HLS player built on Media Source Extensions does the work: it
// follows the playlist with blocking reloads (_HLS_msn/_HLS_part), fetches
// the init segment and each partial segment in order and appends them to a
// SourceBuffer in 'sequence' mode (so discontinuities need no offsets), and
// jumps to the live edge when it falls behind.
(function () {
  'use strict';

  const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

  function base(streamId) {
    return '/streams/' + encodeURIComponent(streamId) + '/hls/';
  }

  // ---- playlist --------------------------------------------------------

  function attrs(s) {
    const out = {};
    const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
    let m;
    while ((m = re.exec(s))) out[m[1]] = m[2].replace(/^"|"$/g, '');
    return out;
  }

  // { msn0, segments: [{msn, init, uri, parts:[{uri, independent}], complete}], hint }
  function parse(text) {
    const pl = { msn0: 0, segments: [], hint: null };
    let init = null;
    let cur = null;
    const open = () => {
      if (!cur) {
        cur = { msn: pl.msn0 + pl.segments.length, init, parts: [], complete: false };
      }
      return cur;
    };
    for (const line of text.split('\n')) {
      if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) pl.msn0 = parseInt(line.slice(22), 10);
      else if (line.startsWith('#EXT-X-MAP:')) init = attrs(line.slice(11)).URI;
      else if (line.startsWith('#EXT-X-PART:')) {
        const a = attrs(line.slice(12));
        open().parts.push({ uri: a.URI, independent: a.INDEPENDENT === 'YES' });
      } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) pl.hint = attrs(line.slice(20)).URI;
      else if (line && !line.startsWith('#')) {
        const s = open();
        s.uri = line.trim();
        s.complete = true;
        pl.segments.push(s);
        cur = null;
      }
    }
    if (cur && cur.parts.length) pl.segments.push(cur);
    return pl;
  }

  // "avc1.PPCCLL" from the avcC box of an init segment.
  function codecOf(init) {
    const b = new Uint8Array(init);
    for (let i = 4; i + 8 < b.length; i++) {
      if (b[i] === 0x61 && b[i + 1] === 0x76 && b[i + 2] === 0x63 && b[i + 3] === 0x43) {
        const hex = (x) => x.toString(16).padStart(2, '0');
        return 'avc1.' + hex(b[i + 5]) + hex(b[i + 6]) + hex(b[i + 7]);
      }
    }
    return 'avc1.42c01f';
  }

  // ---- the MSE player ----------------------------------------------------

  function msePlayer(video, streamId) {
    const root = base(streamId);
    const ctl = new AbortController();
    const ms = new MediaSource();
    const objectUrl = URL.createObjectURL(ms);
    let stopped = false;
    let sb = null;
    let initUri = null;
    video.muted = true;
    video.playsInline = true;
    video.src = objectUrl;

    const get = async (path, kind) => {
      const r = await fetch(root + path, { signal: ctl.signal, cache: 'no-store' });
      if (!r.ok) {
        const e = new Error(path + ': HTTP ' + r.status);
        e.status = r.status;
        throw e;
      }
      return kind === 'text' ? r.text() : r.arrayBuffer();
    };
    const playlist = async (msn, part) => {
      const q = msn == null ? '' : '?_HLS_msn=' + msn + (part == null ? '' : '&_HLS_part=' + part);
      return parse(await get('index.m3u8' + q, 'text'));
    };
    const append = (buf) =>
      new Promise((resolve, reject) => {
        sb.addEventListener('updateend', resolve, { once: true });
        sb.addEventListener('error', reject, { once: true });
        sb.appendBuffer(buf);
      });
    const useInit = async (uri) => {
      if (uri === initUri) return;
      const data = await get(uri);
      if (!sb) {
        sb = ms.addSourceBuffer('video/mp4; codecs="' + codecOf(data) + '"');
        sb.mode = 'sequence';
      }
      await append(data);
      initUri = uri;
    };
    const trim = async () => {
      const b = video.buffered;
      if (!b.length) return;
      const end = b.end(b.length - 1);
      if (end - video.currentTime > 3) video.currentTime = end - 0.5; // live edge
      if (video.currentTime - b.start(0) > 30 && !sb.updating) {
        await new Promise((resolve) => {
          sb.addEventListener('updateend', resolve, { once: true });
          sb.remove(b.start(0), video.currentTime - 10);
        });
      }
    };
    // The last independent part: where playback can start near the edge.
    const startPoint = (pl) => {
      for (let s = pl.segments.length - 1; s >= 0; s--) {
        const seg = pl.segments[s];
        for (let i = seg.parts.length - 1; i >= 0; i--) {
          if (seg.parts[i].independent) return { msn: seg.msn, part: i };
        }
        if (!seg.parts.length && seg.complete) return { msn: seg.msn, part: -1 };
      }
      return null;
    };

    const run = async () => {
      await new Promise((r) => ms.addEventListener('sourceopen', r, { once: true }));
      let pl = await playlist();
      let at = startPoint(pl);
      while (!at && !stopped) {
        pl = await playlist(pl.msn0 + pl.segments.length);
        at = startPoint(pl);
      }
      while (!stopped) {
        const seg = pl.segments.find((s) => s.msn === at.msn);
        if (!seg && at.msn < pl.msn0) {
          at = startPoint(pl); // fell out of the window: back to the edge
          continue;
        }
        if (seg && at.part === -1) {
          // A complete segment without listed parts: take it whole.
          await useInit(seg.init);
          await append(await get(seg.uri));
          at = { msn: at.msn + 1, part: 0 };
        } else if (seg && at.part < seg.parts.length) {
          await useInit(seg.init);
          try {
            await append(await get(seg.parts[at.part].uri));
          } catch (e) {
            if (e.status !== 404) throw e;
            pl = await playlist();
            continue;
          }
          at = { msn: at.msn, part: at.part + 1 };
          if (video.paused) video.play().catch(() => {});
          await trim();
          continue;
        } else if (seg && seg.complete) {
          at = { msn: at.msn + 1, part: 0 };
          continue;
        }
        // Not listed yet: a blocking reload returns as soon as it is.
        try {
          pl = await playlist(at.msn, at.part);
        } catch (e) {
          if (e.status !== 400 && e.status !== 503) throw e;
          pl = await playlist();
          at = startPoint(pl) || at;
        }
      }
    };

    const done = run().catch((e) => {
      if (!stopped) console.error('FramecastHLS:', e);
    });
    return {
      mode: 'mse',
      done,
      stop() {
        stopped = true;
        ctl.abort();
        video.removeAttribute('src');
        video.load();
        URL.revokeObjectURL(objectUrl);
      },
    };
  }

  function nativePlayer(video, streamId) {
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    video.src = base(streamId) + 'index.m3u8';
    video.play().catch(() => {});
    const s = {
      mode: 'native',
      inner: null,
      stop() {
        video.removeEventListener('error', onError);
        if (s.inner) s.inner.stop();
        else {
          video.removeAttribute('src');
          video.load();
        }
      },
    };
    const onError = () => {
      if (s.inner || !window.MediaSource) return;
      console.warn('FramecastHLS: native HLS failed, switching to MSE', video.error);
      s.mode = 'mse';
      s.inner = msePlayer(video, streamId);
    };
    video.addEventListener('error', onError, { once: true });
    return s;
  }

  window.FramecastHLS = {
    /** True when the browser's own HLS player is the one to use. */
    native(video) {
      const can = !!video.canPlayType && video.canPlayType(PLAYLIST_TYPE) !== '';
      const apple = /Apple/.test(navigator.vendor || '');
      return can && (apple || !window.MediaSource);
    },
    /**
     * Play stream `streamId` in `video`; `{mse: true}` forces the MSE player,
     * `{native: true}` tries the browser's own player first (falling back to
     * MSE if it errors). Returns `{mode, stop()}`.
     */
    start(video, streamId, opts) {
      const o = opts || {};
      const canNative = video.canPlayType && video.canPlayType(PLAYLIST_TYPE) !== '';
      if (!o.mse && ((o.native && canNative) || this.native(video))) {
        return nativePlayer(video, streamId);
      }
      if (!window.MediaSource) throw new Error('this browser has neither HLS nor Media Source Extensions');
      return msePlayer(video, streamId);
    },
    parse,
  };
})();
