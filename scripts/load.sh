#!/usr/bin/env bash
# The measuring runs (`make load`): the 10,000-request load
# run, the relay comparison and the cold start, all in test/load. Each test
# writes build/load/<name>.json; this prints them at the end. Needs the pinned
# tools in bin/ (`make tools`); qemu-user-static and strace are optional
# (`make deps`). Takes a few minutes on 2 cores; run it on a quiet machine,
# since every figure is a wall-clock or CPU measurement.
#
# S3PROXY_LOAD_QUICK=1 divides the request counts by ten, to try it out.
set -euo pipefail
cd "$(dirname "$0")/.."

export S3PROXY_BIN="${S3PROXY_BIN:-$PWD/bin}"
export S3PROXY_REQUIRE_PEERS=1
mkdir -p build/load
rm -f build/load/load.json build/load/relay.json build/load/coldstart.json

status=0
S3PROXY_LOAD=1 go test -count=1 -timeout 30m -v \
	-run 'TestLoad$|TestRelayComparison|TestColdStart' ./test/load/ \
	2>&1 | tee build/load/go-test.log || status=$?

for f in build/load/load.json build/load/relay.json build/load/coldstart.json; do
	if [ -f "$f" ]; then
		echo "== $f"
		cat "$f"
	else
		echo "== $f: not written (see build/load/go-test.log)"
	fi
done
exit "$status"
