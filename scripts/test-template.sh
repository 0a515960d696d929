#!/usr/bin/env bash
# Template checks (make test-template): cfn-lint on template.yaml, the SAM
# translator run offline as `sam validate` would, cfn-lint again on what it
# produces, in each deployment shape (Visibility × new/existing VPC), then the
# structural tests in tests/template. Needs python3 with cfn-lint and
# aws-sam-translator, and go (for `s3proxy rules`); no AWS account, no network.
# Exits non-zero on the first failure.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the working tree
cd "$(dirname "$0")/.."

fail() { echo "test-template: $*" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found"
command -v cfn-lint >/dev/null || fail "cfn-lint not found (pip install cfn-lint)"
"$PYTHON" -c 'import samtranslator' 2>/dev/null || fail "aws-sam-translator not importable by $PYTHON (pip install aws-sam-translator)"
command -v "${GO:-go}" >/dev/null || fail "go not found (needed for 's3proxy rules')"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cfn-lint exits non-zero on errors and on warnings; the few justified ignores
# live in the template's own Metadata, next to what they excuse.
lint() {
	echo "cfn-lint $*"
	cfn-lint --format parseable "$@"
}

# Every region's resource specs once; the combinations in one region.
lint --regions us-east-1 eu-west-1 ap-southeast-2 -- template.yaml

combos=$("$PYTHON" tests/template/combos.py names) || fail "cannot list the combinations"
[ -n "$combos" ] || fail "no combinations"

# With parameter values cfn-lint resolves the conditions and, on plain
# CloudFormation, also checks the values against the parameters. One run
# takes every combination's parameter file (cfn-lint lints the template once
# per set; a finding names its file), which costs about one run instead of
# one per combination. A translated template is one file per combination,
# and cfn-lint takes parameters for a single template only, so those stay
# one run each.
param_files=()
while read -r combo; do
	echo "== $combo"
	mapfile -d '' params < <("$PYTHON" tests/template/combos.py args "$combo")
	"$PYTHON" tests/template/combos.py param-file "$combo" "$work/$combo.params.json"
	param_files+=("$work/$combo.params.json")
	"$PYTHON" tests/template/translate.py template.yaml "$work/$combo.json" "${params[@]}" ||
		fail "SAM translation failed for $combo"
	lint --regions eu-west-1 --parameter-files "$work/$combo.params.json" -- "$work/$combo.json"
done <<<"$combos"

echo "== every combination's parameters on template.yaml"
lint --regions eu-west-1 --parameter-files "${param_files[@]}" -- template.yaml

# Built once: the tests run `s3proxy rules -bucket B -key-prefixes P` for
# every parameter set they compare, and `s3proxy check -h`.
echo "== s3proxy (for rules and check -h)"
"${GO:-go}" build -o "$work/s3proxy" ./cmd/s3proxy || fail "go build ./cmd/s3proxy failed"

echo "== structural tests"
S3PROXY_CLI="$work/s3proxy" "$PYTHON" -m unittest discover -s tests/template -t tests/template -v
