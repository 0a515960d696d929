#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a bounded time, one after
# another, and prints the exec count each reached.
#
#   FUZZTIME=30s  how long each target runs (any -fuzztime value; default 30s)
#   FUZZPARALLEL=1  fuzz workers per target (default 1: the CPU is shared)
#   FUZZPKGS="./pkg/..."  where to look for targets
#
# A crash fails the script; Go writes the minimized input under the
# package's testdata/fuzz/<Target>/, where the plain `go test` seed run
# (make test) keeps failing on it until it is fixed.
set -euo pipefail

cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
FUZZPARALLEL="${FUZZPARALLEL:-1}"
read -r -a PKGS <<<"${FUZZPKGS:-./pkg/...}"

# `go test -list` prints each package's matching tests, then "ok <pkg>".
targets=()
pending=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) pending+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for name in "${pending[@]}"; do targets+=("$pkg $name"); done
		pending=()
		;;
	esac
done < <(go test -list '^Fuzz' "${PKGS[@]}")

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found in ${PKGS[*]}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${FUZZTIME} each, ${FUZZPARALLEL} worker(s)"

summary=()
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== $pkg $name"
	rc=0
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$FUZZPARALLEL" "$pkg" 2>&1 | tee "$log" || rc=$?
	# The last progress line holds the totals:
	#   fuzz: elapsed: 5m0s, execs: 1234567 (4115/sec), new interesting: 12 (total: 40)
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/^fuzz: elapsed: ([^,]+), execs: ([0-9]+) .*/\2 in \1/p' <<<"$last")
	interesting=$(sed -nE 's/.*new interesting: ([0-9]+) \(total: ([0-9]+)\).*/new interesting \1, corpus \2/p' <<<"$last")
	result=ok
	if [ "$rc" -ne 0 ]; then
		result=FAIL
		status=1
	fi
	summary+=("$(printf '%-4s %-45s %-18s execs %s; %s' "$result" "$pkg" "$name" "${execs:-?}" "${interesting:-?}")")
done

echo
echo "fuzz summary (FUZZTIME=${FUZZTIME}):"
printf '  %s\n' "${summary[@]}"
exit $status
