"""Storage requests in the shapes shotgun_api3 (v3.x) sends them, with urllib.

Standard library only, as the Python API is. Used by clients_test.go:

    python3 sgapi.py OP < spec.json > result.json

OP is one of:
  put        one PUT of a whole file (the API's path for files up to
             20,000,000 bytes). spec: {"url", "file", "filename"}
  multipart  20,000,000-byte chunks of a file, each PUT to the next presigned
             UploadPart URL. spec: {"urls": [...], "file", "filename"}
  get        a download: a plain urlopen GET, which follows redirects.
             spec: {"url"}
  head       a HEAD. spec: {"url"}

The result is one JSON object on stdout. Errors an uploader would raise are
reported in it ("error"), not as a failing exit status; a non-zero exit means
the script itself broke.
"""

import hashlib
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.request

# shotgun_api3: Shotgun._MULTIPART_UPLOAD_CHUNK_SIZE and MAX_ATTEMPTS, and
# the 0.75 s x attempt backoff between upload attempts.
CHUNK_SIZE = 20_000_000
MAX_ATTEMPTS = 3
BACKOFF = 0.75
USER_AGENT = "shotgun-json (3.10.0); Python %d.%d (Linux)" % sys.version_info[:2]


def headers_of(msg):
    return {k: v for k, v in msg.items()}


def url_error(e):
    if isinstance(e, urllib.error.HTTPError):
        return http_error(e)
    return {"type": "URLError", "code": 0, "body": str(e.reason)}


def http_error(e):
    body = e.read(300) if e.fp is not None else b""
    return {
        "type": "HTTPError",
        "code": e.code,
        "headers": headers_of(e.headers) if e.headers is not None else {},
        "body": body.decode("utf-8", "replace"),
    }


def put_to_storage(data, content_type, storage_url):
    """One storage PUT as the API makes it; returns (etag, attempts).

    Retries on 500/503 and on connection errors only; any other HTTP status
    that urllib does not treat as success (a redirect of a PUT included:
    urllib refuses to follow it) is raised to the caller.
    """
    attempt = 0
    while True:
        attempt += 1
        opener = urllib.request.build_opener(urllib.request.HTTPHandler)
        request = urllib.request.Request(storage_url, data=data)
        request.add_header("Content-Type", content_type)
        request.add_header("Content-Length", len(data))
        request.get_method = lambda: "PUT"
        try:
            result = opener.open(request)
            try:
                return result.info()["Etag"], attempt, result.status
            finally:
                result.close()
        except urllib.error.HTTPError as e:
            if e.code not in (500, 503) or attempt >= MAX_ATTEMPTS:
                raise
        except urllib.error.URLError:
            if attempt >= MAX_ATTEMPTS:
                raise
        time.sleep(BACKOFF * attempt)


def content_type_for(filename):
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def op_put(spec):
    with open(spec["file"], "rb") as f:
        data = f.read()
    if len(data) > CHUNK_SIZE:
        raise SystemExit("put: %d bytes is a multipart upload for the API" % len(data))
    ctype = content_type_for(spec["filename"])
    try:
        etag, attempts, status = put_to_storage(data, ctype, spec["url"])
    except urllib.error.URLError as e:
        return {"content_type": ctype, "error": url_error(e)}
    return {"status": status, "etag": etag, "attempts": attempts, "content_type": ctype, "size": len(data)}


def op_multipart(spec):
    ctype = content_type_for(spec["filename"])
    urls = spec["urls"]
    parts = []
    with open(spec["file"], "rb") as f:
        while True:
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                break
            n = len(parts) + 1
            if n > len(urls):
                raise SystemExit("multipart: more chunks than the %d part URLs" % len(urls))
            try:
                etag, attempts, status = put_to_storage(chunk, ctype, urls[n - 1])
            except urllib.error.URLError as e:
                parts.append({"part": n, "size": len(chunk), "error": url_error(e)})
                break
            parts.append({"part": n, "size": len(chunk), "status": status, "etag": etag, "attempts": attempts})
    return {"parts": parts}


def op_get(spec):
    request = urllib.request.Request(spec["url"])
    request.add_header("User-Agent", USER_AGENT)
    try:
        resp = urllib.request.urlopen(request)
    except urllib.error.URLError as e:
        return {"error": url_error(e)}
    with resp:
        h = hashlib.sha256()
        n = 0
        while True:
            b = resp.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        return {"status": resp.status, "url": resp.geturl(), "headers": headers_of(resp.headers),
                "sha256": h.hexdigest(), "length": n}


def op_head(spec):
    request = urllib.request.Request(spec["url"], method="HEAD")
    request.add_header("User-Agent", USER_AGENT)
    try:
        resp = urllib.request.urlopen(request)
    except urllib.error.URLError as e:
        return {"error": url_error(e)}
    with resp:
        return {"status": resp.status, "url": resp.geturl(), "headers": headers_of(resp.headers),
                "length": len(resp.read())}


OPS = {"put": op_put, "multipart": op_multipart, "get": op_get, "head": op_head}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in OPS:
        raise SystemExit("usage: sgapi.py {%s} < spec.json" % ",".join(sorted(OPS)))
    spec = json.load(sys.stdin)
    json.dump(OPS[sys.argv[1]](spec), sys.stdout)
    sys.stdout.write(os.linesep)


if __name__ == "__main__":
    main()
