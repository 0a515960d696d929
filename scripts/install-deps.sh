#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: qemu-user-static (the
# arm64 deploy artifact, run under the emulator), chromium (the browser
# cells of the client matrix) and strace (test/load's check that the
# function's init makes no network call). Idempotent: it does nothing when
# they are already there, so `make test` can call it every time.
set -euo pipefail

need=()
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v chromium >/dev/null || need+=(chromium)
command -v strace >/dev/null || need+=(strace)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
