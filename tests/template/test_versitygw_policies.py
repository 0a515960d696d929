"""The interface endpoint's rendered policy, enforced by a real S3 peer.

versitygw evaluates bucket policies by Principal, Action and Resource, with
Allow and Deny, for its IAM users, whom nothing else grants anything in a
bucket they do not own. That is an endpoint policy's allow list. It has no
aws:PrincipalArn or aws:ResourceAccount in its condition context, so each
statement's ArnEquals aws:PrincipalArn becomes its Principal (versitygw
names principals by access key ID) and aws:ResourceAccount is dropped; the
IAM evaluator (iam_eval, checks.check_access) covers those. What this shows
that the evaluator cannot: that the actions the template lists are the ones
an S3 server checks for ShotGrid's real calls (UploadPart, Create and
Complete multipart as s3:PutObject, ListParts, Abort), and that the key
prefix patterns match real keys.

Object ACL calls are not shown here: versitygw answers them NotImplemented
whatever the policy says (the evaluator shows PutObjectAcl refused).

Needs bin/versitygw ($S3PROXY_BIN, else ./bin); skipped, saying so, without.
"""

import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import checks
from cfn_eval import Evaluation
from combos import COMBOS
from translate import load, translate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
BUCKET = COMBOS["private-existing"]["BucketName"]


def _binary():
    for d in (os.environ.get("S3PROXY_BIN"), os.path.join(ROOT, "bin")):
        if d and os.access(os.path.join(d, "versitygw"), os.X_OK):
            return os.path.join(d, "versitygw")
    return None


def _keys():
    return "AK" + secrets.token_hex(9).upper(), base64.b64encode(secrets.token_bytes(30)).decode()


class Gateway:
    """versitygw with its internal IAM, on 127.0.0.1, stopped by PID."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="s3proxy-vgw-")
        os.makedirs(os.path.join(self.dir, "data"))
        os.makedirs(os.path.join(self.dir, "iam"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.access, self.secret = _keys()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VGW_", "ROOT_"))}
        env.update(ROOT_ACCESS_KEY_ID=self.access, ROOT_SECRET_ACCESS_KEY=self.secret)
        self.proc = subprocess.Popen(
            [binary, "--port", f"127.0.0.1:{port}", "--quiet", "--region", REGION,
             "--iam-dir", os.path.join(self.dir, "iam"), "posix", os.path.join(self.dir, "data")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("versitygw did not start")
                time.sleep(0.05)
        self.root = self.client(self.access, self.secret)

    def client(self, access, secret):
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id=access,
                            aws_secret_access_key=secret,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required"))

    def create_user(self, role="user"):
        """What `versitygw admin create-user` does: PATCH /create-user on
        the gateway's own port, SigV4-signed by root."""
        access, secret = _keys()
        body = f"<Account><Access>{access}</Access><Secret>{secret}</Secret><Role>{role}</Role></Account>".encode()
        req = AWSRequest(method="PATCH", url=self.url + "/create-user", data=body,
                         headers={"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()})
        SigV4Auth(Credentials(self.access, self.secret), "s3", REGION).add_auth(req)
        r = urllib.request.Request(req.url, data=body, method="PATCH", headers=dict(req.headers.items()))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(r, timeout=10) as resp:
            assert resp.status // 100 == 2, resp.status
        return self.client(access, secret), access

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def as_versitygw_policy(endpoint_policy, keys_by_arn):
    """The endpoint policy as a versitygw bucket policy: the principal
    condition becomes the Principal, the account condition is dropped, and
    anything else fails."""
    out = []
    for s in endpoint_policy["Statement"]:
        cond = dict(s.get("Condition", {}))
        arns = checks._as_list(cond.pop("ArnEquals", {}).pop("aws:PrincipalArn", "*"))
        account = cond.pop("StringEquals", {})
        account.pop("aws:ResourceAccount", None)
        assert not cond and not account, f"{s.get('Sid')}: a condition versitygw cannot stand for: {s['Condition']}"
        principal = "*" if arns == ["*"] else {"AWS": [keys_by_arn[a] for a in arns]}
        out.append({"Effect": s["Effect"], "Principal": principal,
                    "Action": checks._as_list(s["Action"]), "Resource": checks._as_list(s["Resource"])})
    return json.dumps({"Version": "2012-10-17", "Statement": out})


def refused(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


@unittest.skipUnless(_binary(), "bin/versitygw is not built (make tools): the endpoint policy is not shown on versitygw")
class TestEndpointPolicyOnVersityGW(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(_binary())
        cls.gw.root.create_bucket(Bucket=BUCKET)
        cls.shotgrid, cls.shotgrid_key = cls.gw.create_user()
        cls.proxy, cls.proxy_key = cls.gw.create_user()
        cls.unlisted, cls.unlisted_key = cls.gw.create_user()
        cls.checker, cls.checker_key = cls.gw.create_user()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def apply(self, combo, change=None):
        params = COMBOS[combo]
        ev = Evaluation(translate(load(os.path.join(ROOT, "template.yaml")), params), params)
        doc = ev.properties("S3InterfaceEndpoint")["PolicyDocument"]
        if change:
            change(doc)
        keys = {"<ProxyFunctionRole.Arn>": self.proxy_key}
        keys.update({a: self.shotgrid_key for a in ev.params["ShotGridPrincipalArns"]})
        keys.update({a: self.checker_key for a in ev.params["CheckPrincipalArns"] if a})
        self.gw.root.put_bucket_policy(Bucket=BUCKET, Policy=as_versitygw_policy(doc, keys))
        return ev.params["KeyPrefixes"].split(",")

    def test_rendered_policy(self):
        for combo in ("private-existing", "public-existing"):
            with self.subTest(combo=combo):
                prefixes = self.apply(combo)
                key = prefixes[-1] + "shots/010/v001.mov"
                sg = self.shotgrid
                # ShotGrid's passthrough calls
                self.assertIsNone(refused(lambda: sg.put_object(Bucket=BUCKET, Key=key, Body=b"x" * 1024)))
                up = sg.create_multipart_upload(Bucket=BUCKET, Key=key + ".mp")["UploadId"]
                etag = sg.upload_part(Bucket=BUCKET, Key=key + ".mp", UploadId=up, PartNumber=1, Body=b"y" * 2048)["ETag"]
                self.assertIsNone(refused(lambda: sg.list_parts(Bucket=BUCKET, Key=key + ".mp", UploadId=up)))
                self.assertIsNone(refused(lambda: sg.complete_multipart_upload(
                    Bucket=BUCKET, Key=key + ".mp", UploadId=up,
                    MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})))
                up2 = sg.create_multipart_upload(Bucket=BUCKET, Key=key + ".abort")["UploadId"]
                self.assertIsNone(refused(lambda: sg.abort_multipart_upload(Bucket=BUCKET, Key=key + ".abort", UploadId=up2)))
                # ... and nothing else
                self.assertEqual(refused(lambda: sg.get_object(Bucket=BUCKET, Key=key)), "AccessDenied",
                                 "ShotGrid's principal reads through the endpoint")
                self.assertEqual(refused(lambda: sg.put_object(Bucket=BUCKET, Key="zz-not-a-prefix/x.mov", Body=b"x")), "AccessDenied")
                self.assertEqual(refused(lambda: sg.put_bucket_policy(Bucket=BUCKET, Policy='{"Version":"2012-10-17","Statement":[]}')), "AccessDenied")
                self.assertEqual(refused(lambda: sg.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
                    {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})), "AccessDenied")
                self.assertEqual(refused(lambda: sg.delete_bucket(Bucket=BUCKET)), "AccessDenied")
                # the proxy role reads, and only reads, under the prefixes
                self.assertIsNone(refused(lambda: self.proxy.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
                self.assertIsNone(refused(lambda: self.proxy.head_object(Bucket=BUCKET, Key=key + ".mp")))
                self.assertEqual(refused(lambda: self.proxy.put_object(Bucket=BUCKET, Key=key, Body=b"z")), "AccessDenied")
                # an unlisted principal gets nothing
                self.assertEqual(refused(lambda: self.unlisted.get_object(Bucket=BUCKET, Key=key)), "AccessDenied")
                self.assertEqual(refused(lambda: self.unlisted.put_object(Bucket=BUCKET, Key=key, Body=b"w")), "AccessDenied")
                self.assertIsNone(refused(lambda: sg.delete_object(Bucket=BUCKET, Key=key)))
                if not COMBOS[combo].get("CheckPrincipalArns"):
                    continue
                # s3proxy check's principal: its own folders, nothing else
                ck = self.checker
                area = prefixes[-1] + "s3proxy-check/20260304T101500Z-1a2b3c4d/"
                self.assertIsNone(refused(lambda: ck.put_object(Bucket=BUCKET, Key=area + "small.bin", Body=b"c" * 512)))
                up = ck.create_multipart_upload(Bucket=BUCKET, Key=area + "large.bin")["UploadId"]
                etag = ck.upload_part(Bucket=BUCKET, Key=area + "large.bin", UploadId=up, PartNumber=1, Body=b"p" * 1024)["ETag"]
                self.assertIsNone(refused(lambda: ck.list_parts(Bucket=BUCKET, Key=area + "large.bin", UploadId=up)))
                self.assertIsNone(refused(lambda: ck.complete_multipart_upload(
                    Bucket=BUCKET, Key=area + "large.bin", UploadId=up,
                    MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})))
                self.assertEqual(refused(lambda: ck.put_object(Bucket=BUCKET, Key=key, Body=b"c")), "AccessDenied",
                                 "check's principal writes ShotGrid's media through the endpoint")
                self.assertEqual(refused(lambda: ck.put_object(Bucket=BUCKET, Key=prefixes[-1] + "s3proxy-checkx/a", Body=b"c")), "AccessDenied")
                self.assertEqual(refused(lambda: ck.get_object(Bucket=BUCKET, Key=area + "small.bin")), "AccessDenied",
                                 "check's principal reads through the endpoint")
                for k in ("small.bin", "large.bin"):
                    self.assertIsNone(refused(lambda: ck.delete_object(Bucket=BUCKET, Key=area + k)))

    def test_read_only_policy(self):
        """A read-only stack's endpoint takes no write from anyone, and
        still carries the proxy role's reads."""
        combo = next(c for c, p in COMBOS.items() if p.get("ReadOnly") == "true")
        key = "shotgun/shots/012/v001.mov"
        self.gw.root.put_object(Bucket=BUCKET, Key=key, Body=b"r")
        prefixes = self.apply(combo)
        area = prefixes[0] + "s3proxy-check/20260304T101500Z-1a2b3c4d/small.bin"
        for who, client, k in (("ShotGrid", self.shotgrid, key), ("check", self.checker, area), ("unlisted", self.unlisted, key)):
            with self.subTest(principal=who):
                self.assertEqual(refused(lambda: client.put_object(Bucket=BUCKET, Key=k, Body=b"w")), "AccessDenied")
                self.assertEqual(refused(lambda: client.create_multipart_upload(Bucket=BUCKET, Key=k)), "AccessDenied")
                self.assertEqual(refused(lambda: client.delete_object(Bucket=BUCKET, Key=key)), "AccessDenied")
        self.assertIsNone(refused(lambda: self.proxy.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        self.apply("private-existing")

    def test_breakages_show(self):
        """The same requests tell a broken policy: each change below lets
        through a call the rendered policy refuses."""
        def widen_writes(doc):
            for s in doc["Statement"]:
                if s["Sid"] == "ShotGridWrites":
                    s["Condition"].pop("ArnEquals")

        def reads_for_shotgrid(doc):
            for s in doc["Statement"]:
                if s["Sid"] == "ProxyRoleReads":
                    s["Condition"]["ArnEquals"]["aws:PrincipalArn"] = [
                        s["Condition"]["ArnEquals"]["aws:PrincipalArn"]] + COMBOS["private-existing"]["ShotGridPrincipalArns"].split(",")

        def check_writes_everywhere(doc):
            shotgrid = next(s for s in doc["Statement"] if s["Sid"] == "ShotGridWrites")
            for s in doc["Statement"]:
                if s["Sid"] == "CheckWrites":
                    s["Resource"] = shotgrid["Resource"]

        def whole_bucket(doc):
            for s in doc["Statement"]:
                s["Resource"] = [f"arn:aws:s3:::{BUCKET}/*"]

        def old_bucket_wide(doc):
            doc["Statement"] = [{"Sid": "ThisBucketOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                 "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]

        key = "shotgun/shots/011/v001.mov"
        self.gw.root.put_object(Bucket=BUCKET, Key=key, Body=b"v")
        for name, change, call in [
            ("writes for any principal", widen_writes,
             lambda: self.unlisted.put_object(Bucket=BUCKET, Key=key, Body=b"w")),
            ("reads for ShotGrid's principal", reads_for_shotgrid,
             lambda: self.shotgrid.get_object(Bucket=BUCKET, Key=key)),
            ("the endpoint policy of before: s3:* on the bucket", old_bucket_wide,
             lambda: self.shotgrid.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
                 {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})),
            ("check's writes on ShotGrid's media", check_writes_everywhere,
             lambda: self.checker.put_object(Bucket=BUCKET, Key=key, Body=b"c")),
            ("the whole bucket", whole_bucket,
             lambda: self.shotgrid.put_object(Bucket=BUCKET, Key="zz-not-a-prefix/x.mov", Body=b"x")),
        ]:
            with self.subTest(breakage=name):
                self.apply("private-existing")
                self.assertEqual(refused(call), "AccessDenied", "refused under the rendered policy")
                self.apply("private-existing", change)
                self.assertIsNone(refused(call), f"{name}: still refused, so this test could not tell")
        self.apply("private-existing")


if __name__ == "__main__":
    unittest.main()
