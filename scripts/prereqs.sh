#!/usr/bin/env bash
# The first step of `make test`: checks, in a few seconds, everything the
# suite needs that the project cannot build itself, and names each missing
# piece with the command that installs it. Without this a missing Python
# module fails a Go test after the SeaweedFS build, or the template stage
# about 14 minutes in.
#
# With INSTALL=1 (what `make test` passes unless S3PROXY_SKIP_INSTALL=1),
# what scripts/install-deps.sh installs is not checked here: it comes next.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
GO=${GO:-go}
INSTALL=${INSTALL:-0}
missing=()

need_cmd() { # need_cmd NAME HOW
	command -v "$1" >/dev/null 2>&1 || missing+=("$1 (command): $2")
}

need_cmd "$GO" "install Go $(sed -n 's/^go //p' go.mod) or later from https://go.dev/dl/"
if command -v "$GO" >/dev/null 2>&1; then
	want=$(sed -n 's/^go //p' go.mod)
	have=$("$GO" env GOVERSION 2>/dev/null | sed 's/^go//')
	if [ -n "$want" ] && [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)" != "$want" ]; then
		missing+=("go $want or later (found $have): install it from https://go.dev/dl/")
	fi
fi
need_cmd git "apt-get install git"
need_cmd curl "apt-get install curl"
need_cmd "$PYTHON" "apt-get install python3 (3.11)"

pip_fix="$PYTHON -m pip install -r requirements-test.txt"
if command -v "$PYTHON" >/dev/null 2>&1; then
	# module:package pairs; the package is what requirements-test.txt pins.
	for pair in boto3:boto3 botocore:botocore samtranslator:aws-sam-translator cfnlint:cfn-lint moto:moto flask_cors:flask-cors; do
		mod=${pair%%:*} pkg=${pair#*:}
		if ! "$PYTHON" -c "import $mod" >/dev/null 2>&1; then
			if [ "$INSTALL" = 1 ]; then
				continue # scripts/install-deps.sh installs it next
			fi
			missing+=("$pkg (Python module $mod for $PYTHON): $pip_fix")
		fi
	done
	if [ "$INSTALL" != 1 ]; then
		need_cmd cfn-lint "$pip_fix"
		need_cmd moto_server "$pip_fix"
	fi
fi

if [ "$INSTALL" != 1 ]; then
	# What scripts/install-deps.sh would install from Debian.
	need_cmd qemu-aarch64-static "apt-get install qemu-user-static"
	need_cmd chromium "apt-get install chromium"
	need_cmd strace "apt-get install strace"
elif [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
	missing+=("root or sudo, to install the suite's Debian packages: run as root, or install them yourself and set S3PROXY_SKIP_INSTALL=1")
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "make test: missing prerequisites:" >&2
	printf '  - %s\n' "${missing[@]}" >&2
	echo "README.md (Quickstart) lists what the suite needs." >&2
	exit 1
fi
echo "prerequisites: ok (go $("$GO" env GOVERSION | sed 's/^go//'), $("$PYTHON" --version 2>&1))"
