// The browser half of the Chromium cells. The Go test calls these functions
// with Runtime.evaluate (awaitPromise) and reads back the plain objects they
// resolve to. A failed fetch resolves to {error: {name, message}} rather than
// rejecting, so the Go side can tell a CORS refusal (TypeError) from a bug.
'use strict';

(function () {
  async function sha256Hex(buf) {
    const digest = await crypto.subtle.digest('SHA-256', buf);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function failure(e) {
    return { error: { name: e && e.name, message: String(e && e.message) } };
  }

  // What JS can see of a response: only CORS-exposed headers are readable
  // here, which is the point of reading them from the page.
  function seen(resp) {
    return {
      ok: resp.ok,
      status: resp.status,
      type: resp.type,
      url: resp.url,
      redirected: resp.redirected,
      etag: resp.headers.get('ETag'),
      contentRange: resp.headers.get('Content-Range'),
      contentType: resp.headers.get('Content-Type'),
    };
  }

  // The media elements by name, and what each reported.
  const media = {};
  const mediaEvents = ['loadedmetadata', 'canplay', 'playing', 'waiting', 'stalled', 'seeking',
    'seeked', 'error', 'ended', 'abort', 'emptied'];

  function ranges(tr) {
    const out = [];
    for (let i = 0; i < tr.length; i++) out.push([tr.start(i), tr.end(i)]);
    return out;
  }

  window.s3t = {
    // put uploads the bytes the site serves at bodyPath (same-origin) to a
    // presigned PUT URL. The Content-Type makes it a non-simple request, so
    // the browser preflights it.
    async put(url, bodyPath, contentType) {
      let body;
      try {
        const src = await fetch(bodyPath, { cache: 'no-store' });
        body = await src.arrayBuffer();
      } catch (e) {
        return { error: { name: 'Setup', message: 'reading ' + bodyPath + ': ' + e } };
      }
      try {
        const resp = await fetch(url, {
          method: 'PUT', body, headers: { 'Content-Type': contentType },
          mode: 'cors', credentials: 'omit', cache: 'no-store',
        });
        const out = seen(resp);
        out.sent = body.byteLength;
        out.text = (await resp.text()).slice(0, 500);
        return out;
      } catch (e) {
        return failure(e);
      }
    },

    // get fetches a presigned GET URL cross-origin, with a Range header when
    // range is given, and hashes the body it could read. credentials is the
    // fetch's credentials mode, 'omit' unless given.
    async get(url, range, credentials) {
      const headers = {};
      if (range) headers.Range = range;
      try {
        const resp = await fetch(url, { headers, mode: 'cors', credentials: credentials || 'omit', cache: 'no-store' });
        const out = seen(resp);
        const buf = await resp.arrayBuffer();
        out.length = buf.byteLength;
        out.sha256 = await sha256Hex(buf);
        return out;
      } catch (e) {
        return failure(e);
      }
    },

    // video plays url in a muted <video> called name (preload auto, no
    // crossorigin attribute: a media load is no-cors, as the web app's
    // player's is) and resolves when playback has begun. Chromium fetches
    // it with Range requests of its own choosing.
    video(name, url) {
      const v = document.createElement('video');
      v.muted = true;
      v.preload = 'auto';
      const log = [];
      for (const name of mediaEvents) {
        v.addEventListener(name, () => log.push({
          event: name, at: performance.now(), currentTime: v.currentTime,
          readyState: v.readyState, networkState: v.networkState, error: v.error ? v.error.code : 0,
        }));
      }
      media[name] = { v, log };
      v.src = url;
      document.body.appendChild(v);
      return v.play().then(() => ({ ok: true }), failure);
    },

    // videoState is the named media element's state now, and the events
    // it fired since the last call.
    videoState(name) {
      const v = media[name].v;
      return {
        currentTime: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended,
        readyState: v.readyState, networkState: v.networkState,
        error: v.error ? { code: v.error.code, message: v.error.message } : null,
        buffered: ranges(v.buffered), now: performance.now(), events: media[name].log.splice(0),
      };
    },

    // seek moves the named element's playback to t seconds.
    seek(name, t) {
      media[name].v.currentTime = t;
      return true;
    },

    // image loads url into an <img> (no crossorigin attribute, as a
    // thumbnail is) and resolves with its natural size, or an error.
    image(url) {
      return new Promise((resolve) => {
        const img = new Image();
        img.onload = () => resolve({ ok: true, width: img.naturalWidth, height: img.naturalHeight });
        img.onerror = () => resolve({ error: { name: 'ImageError', message: 'the image did not load' } });
        img.src = url;
        document.body.appendChild(img);
      });
    },
  };
})();
