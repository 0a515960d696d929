"""Offline `sam validate`: run the SAM translator on template.yaml.

Used by scripts/test-template.sh (as a command) and by the unit tests (as a
module). It needs only the pre-installed aws-sam-translator: no SAM CLI, no
AWS credentials and no network. Local CodeUri paths are replaced by a
placeholder S3 URI, which is what `sam validate` does too; the translator
refuses anything but S3 URIs otherwise.

    python3 tests/template/translate.py template.yaml out.json Key=Value ...
"""

import json
import logging
import os
import sys

# The translator needs a region to build ARNs and refuses to start without.
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
# Its usage-metrics logger warns about unpublished metrics on every run.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PLACEHOLDER_CODE_URI = "s3://placeholder-bucket/placeholder-key"


class OfflinePolicyLoader:
    """Stands in for the IAM call that fetches managed policy ARNs."""

    def load(self):
        return {}


class TranslateError(Exception):
    pass


def load(path):
    """Parse a template, understanding the short intrinsic tags (!Ref, !Sub...)."""
    with open(path, encoding="utf-8") as f:
        return yaml_parse(f.read())


def translate(template, parameters=None):
    """Return the plain CloudFormation a SAM template becomes."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = PLACEHOLDER_CODE_URI
    try:
        return transform(template, dict(parameters or {}), OfflinePolicyLoader())
    except InvalidDocumentException as e:
        raise TranslateError("; ".join(c.message for c in e.causes)) from e


def parse_overrides(args):
    params = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"translate: parameter {arg!r} is not Key=Value")
        params[key] = value
    return params


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    try:
        out = translate(load(argv[1]), parse_overrides(argv[3:]))
    except TranslateError as e:
        print(f"SAM translation failed: {e}", file=sys.stderr)
        return 1
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
