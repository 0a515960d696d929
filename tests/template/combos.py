"""The four deployment shapes the template is tested in: Visibility ×
new/existing VPC. Other parameters vary across them so that every check
also meets non-default values.

scripts/test-template.sh reads them from here, so the shell and the Python
tests cannot drift apart:

    python3 combos.py names                  one name per line
    python3 combos.py args NAME              Key=Value arguments, NUL-separated
    python3 combos.py param-file NAME PATH   cfn-lint --parameter-files JSON
"""

import json
import os
import sys

COMMON = {
    "BucketName": "media-bucket",
    "ProxyDomainName": "s3-proxy.studio.example.com",
    "CertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000",
    "StudioCidrs": "192.168.0.0/16",
    "ShotGridPrincipalArns": "arn:aws:iam::123456789012:role/shotgrid-s3-access",
}
EXISTING = {
    "ExistingVpcId": "vpc-0123456789abcdef0",
    "ExistingPrivateSubnetIds": "subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa2",
    "ExistingRouteTableIds": "rtb-0aaaaaaaaaaaaaaa1",
}

# Key prefixes: none (public-new), one (private-new), four (public-existing:
# a second /_direct rule with one pattern) and five (private-existing: the
# second rule with two). tests also run the rule table over other counts.
COMBOS = {
    "private-new": dict(COMMON, KeyPrefixes="shotgun/", StudioCidrs="192.168.0.0/16,10.20.0.0/16",
                        StudioPrefixListId="pl-0123456789abcdef0", AllowedOrigins="https://studio.shotgrid.autodesk.com",
                        CheckPrincipalArns="arn:aws:iam::123456789012:role/s3proxy-check",
                        BucketKmsKeyArn="arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000000"),
    "public-new": dict(COMMON, Visibility="public", RedirectVia="proxy", UploadPassthrough="false",
                       AccessLogBucket="studio-alb-logs", AlarmEmail="media-ops@studio.example.com",
                       AvailabilityZones="eu-west-1b,eu-west-1c", StudioCidrs="172.20.0.0/14",
                       VpcCidr="172.31.64.0/18"),
    "private-existing": dict(COMMON, **EXISTING, KeyPrefixes="shotgun/,review/,plates~v2/,a,b.c_d-e",
                             SignedHost="media-bucket.s3.eu-west-1.amazonaws.com", Architecture="x86_64",
                             AlarmEmail="ops+s3proxy@studio.example.com", CreateS3GatewayEndpoint="true",
                             MemorySize="1024", ReservedConcurrency="50", ProvisionedConcurrency="5",
                             StudioCidrs="10.0.0.0/8,192.168.10.0/24,172.16.5.0/24,198.51.100.0/24,203.0.113.0/24",
                             # a bucket in another account: ShotGrid's principals and the
                             # other readers are the bucket owner's
                             BucketAccountId="210987654321",
                             ShotGridPrincipalArns="arn:aws:iam::210987654321:role/media/shotgrid-s3-access,"
                                                   "arn:aws:iam::210987654321:user/shotgrid-legacy",
                             OtherReaderArns="arn:aws:iam::210987654321:role/render-farm,arn:aws:iam::210987654321:role/review-tool",
                             CheckPrincipalArns="arn:aws:iam::210987654321:role/media-ops/s3proxy-check,"
                                                "arn:aws:iam::210987654321:user/pipeline-admin"),
    "public-existing": dict(COMMON, **EXISTING, Visibility="public", RedirectVia="proxy",
                            ExistingPublicSubnetIds="subnet-0bbbbbbbbbbbbbbb1,subnet-0bbbbbbbbbbbbbbb2",
                            BucketRegion="eu-west-1", KeyPrefixes="shotgun/,review/,edit/,vfx/",
                            StudioCidrs="", StudioPrefixListId="pl-0fedcba9876543210",
                            BucketKmsKeyArn="arn:aws:kms:eu-west-1:210987654321:key/mrk-0123456789abcdef0123456789abcdef"),
    # Media Replication's replica: read-only, whatever UploadPassthrough
    # (left at its default, true) says.
    "replica": dict(COMMON, **EXISTING, KeyPrefixes="shotgun/,review/", ReadOnly="true",
                    CheckPrincipalArns="arn:aws:iam::123456789012:role/s3proxy-check",
                    OtherReaderArns="arn:aws:iam::123456789012:role/render-farm"),
}


def parameter_file(name, template_path):
    """CloudFormation's parameter-file shape. cfn-lint checks values against
    the parameter types there, so list parameters must be JSON lists."""
    from translate import load

    types = {k: v.get("Type") for k, v in load(template_path)["Parameters"].items()}
    return [
        {"ParameterKey": k, "ParameterValue": v.split(",") if "List" in types[k] else v}
        for k, v in COMBOS[name].items()
    ]


def main(argv):
    if argv[1:] == ["names"]:
        print("\n".join(COMBOS))
    elif len(argv) == 3 and argv[1] == "args" and argv[2] in COMBOS:
        sys.stdout.write("".join(f"{k}={v}\0" for k, v in COMBOS[argv[2]].items()))
    elif len(argv) == 4 and argv[1] == "param-file" and argv[2] in COMBOS:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(argv[3], "w", encoding="utf-8") as f:
            json.dump(parameter_file(argv[2], os.path.join(root, "template.yaml")), f, indent=1)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
