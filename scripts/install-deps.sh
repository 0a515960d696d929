#!/usr/bin/env bash
# Installs what the test suite drives and the project cannot build itself:
#   - from Debian: qemu-user-static (the arm64 deploy artifact under the
#     emulator), chromium (the browser cells of the client matrix) and strace
#     (test/load's check that the function's init makes no network call), at
#     the versions the suite was tested with when the mirror still has them;
#   - with S3PROXY_NGINX=1 (`make inline-cpu`), nginx-light as well: the
#     side of the inline CPU measurement that runs ShotGrid's own nginx
#     configuration. It is installed with service starts forbidden, so that
#     the package's own server never listens on port 80;
#   - from requirements-test.txt with pip, only when a Python module is
#     missing.
# Idempotent and quiet: it does nothing when everything is there, prints one
# line per install, and shows the installer's log only when it fails.
# Set S3PROXY_SKIP_INSTALL=1 on machines managed by other means; it then only
# checks (scripts/prereqs.sh) and names what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${S3PROXY_SKIP_INSTALL:-0}" = 1 ]; then
	exec bash scripts/prereqs.sh
fi

# Debian 12 (bookworm) versions `make test` was last run with.
declare -A tested=(
	[qemu-user-static]="1:7.2+dfsg-7+deb12u18+b2"
	[chromium]="148.0.7778.167-1~deb12u1"
	[strace]="6.1-0.1"
	[nginx-light]="1.22.1-9+deb12u11"
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# quietly WHAT FIRST CMD…: runs CMD with its output in $log, shown only when
# it fails, under scripts/progress.sh (a line a minute; FIRST says how long
# it takes).
quietly() {
	local what=$1 first=$2
	shift 2
	if ! bash scripts/progress.sh "$what" "$first" -- bash -c '"$@" >>"$0" 2>&1' "$log" "$@"; then
		echo "install-deps: $what failed; its output:" >&2
		cat "$log" >&2
		exit 1
	fi
}

need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v chromium >/dev/null || need+=(chromium)
command -v strace >/dev/null || need+=(strace)
if [ "${S3PROXY_NGINX:-0}" = 1 ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	need+=(nginx-light)
fi

if [ ${#need[@]} -gt 0 ]; then
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	echo "install-deps: installing ${need[*]} with apt-get (set S3PROXY_SKIP_INSTALL=1 to manage them yourself)"
	if ! $SUDO apt-get update -qq >>"$log" 2>&1; then
		echo "install-deps: apt-get update failed; its output:" >&2
		cat "$log" >&2
		exit 1
	fi
	pkgs=()
	for p in "${need[@]}"; do
		v=${tested[$p]}
		if apt-cache madison "$p" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$v"; then
			pkgs+=("$p=$v")
		else
			echo "install-deps: $p $v (tested) is no longer on the mirror; installing its current version"
			pkgs+=("$p")
		fi
	done
	# invoke-rc.d asks /usr/sbin/policy-rc.d before starting a package's
	# service; 101 means "not allowed" (Debian policy, §9.3.3). Nothing this
	# installs is a service the suite wants running.
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
		$SUDO chmod 755 "$policy"
		trap '$SUDO rm -f "$policy"; rm -f "$log"' EXIT
	fi
	quietly "apt-get install ${pkgs[*]}" "about a minute; chromium is the largest" \
		$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
	if [ -n "$policy" ]; then
		$SUDO rm -f "$policy"
	fi
fi

PYTHON=${PYTHON:-python3}
if command -v "$PYTHON" >/dev/null; then
	missing_py=()
	for mod in boto3 botocore samtranslator cfnlint moto flask_cors; do
		"$PYTHON" -c "import $mod" >/dev/null 2>&1 || missing_py+=("$mod")
	done
	if [ ${#missing_py[@]} -gt 0 ]; then
		echo "install-deps: Python modules ${missing_py[*]} missing; installing requirements-test.txt with pip"
		quietly "$PYTHON -m pip install -r requirements-test.txt (is PyPI reachable?)" "about a minute" \
			"$PYTHON" -m pip install -q --disable-pip-version-check --retries 1 --timeout 15 -r requirements-test.txt
	fi
fi

# Whatever the installs above could not provide is named, with its fix.
bash scripts/prereqs.sh
