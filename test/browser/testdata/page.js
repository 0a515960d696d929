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
  };
})();
