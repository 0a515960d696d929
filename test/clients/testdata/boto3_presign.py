"""URLs presigned by botocore, sent through the proxy with urllib.

Used by clients_test.go:

    python3 boto3_presign.py < spec.json > result.json

spec: {"access_key", "secret_key", "region", "bucket", "proxy" (base URL),
       "ops": [{"name", "client_method", "params", "http_method",
                "file" (optional body), "content_type" (optional)}]}

Each URL is presigned for https://s3.amazonaws.com with virtual addressing,
so it is signed for <bucket>.s3.amazonaws.com, exactly as a ShotGrid site's
are; then its scheme and host are swapped for the proxy's and the request is
made with urllib (GET follows redirects). The result maps each op's name to
what came back.
"""

import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config


def through(proxy, signed):
    s = urllib.parse.urlsplit(signed)
    p = urllib.parse.urlsplit(proxy)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, s.path, s.query, ""))


def perform(op, url):
    data = None
    if op.get("file"):
        with open(op["file"], "rb") as f:
            data = f.read()
    request = urllib.request.Request(url, data=data, method=op["http_method"])
    if op.get("content_type"):
        request.add_header("Content-Type", op["content_type"])
    try:
        resp = urllib.request.urlopen(request)
    except urllib.error.HTTPError as e:
        body = e.read(300) if e.fp is not None else b""
        return {"error": {"type": "HTTPError", "code": e.code, "body": body.decode("utf-8", "replace"),
                          "headers": dict(e.headers.items()) if e.headers is not None else {}}}
    except urllib.error.URLError as e:
        return {"error": {"type": "URLError", "code": 0, "body": str(e.reason)}}
    with resp:
        body = resp.read()
        return {"status": resp.status, "url": resp.geturl(), "headers": dict(resp.headers.items()),
                "sha256": hashlib.sha256(body).hexdigest(), "length": len(body)}


def main():
    spec = json.load(sys.stdin)
    session = boto3.session.Session(
        aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"],
        region_name=spec["region"],
    )
    client = session.client(
        "s3",
        endpoint_url="https://s3.amazonaws.com",
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    results = {}
    for op in spec["ops"]:
        params = dict(op["params"], Bucket=spec["bucket"])
        signed = client.generate_presigned_url(op["client_method"], Params=params, ExpiresIn=3600)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(signed).query)
        r = perform(op, through(spec["proxy"], signed))
        r["signed_host"] = urllib.parse.urlsplit(signed).netloc
        r["signed_headers"] = q.get("X-Amz-SignedHeaders", [""])[0]
        results[op["name"]] = r
    json.dump({"results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
