#!/usr/bin/env bash
# Runs one long step of `make test` and says what it is doing: a line when
# it starts, with roughly how long it takes the first time, a line every
# PROGRESS_EVERY seconds (50 by default) while it runs, and one at the end
# with the time it took. The step's own output passes through unchanged.
#
#   progress.sh "building SeaweedFS" "about 10 min the first time" -- cmd args…
set -uo pipefail

what=$1 first=$2
shift 2
[ "${1:-}" = "--" ] && shift
every=${PROGRESS_EVERY:-50}

start=$SECONDS
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

echo "==> $what ($first)"
# The ticker is a child of this script, stopped by its PID whatever happens.
# Its sleep holds no output open, so a pipe after make closes on time.
(
	trap 'kill "$nap" 2>/dev/null; exit 0' TERM
	while :; do
		sleep "$every" >/dev/null 2>&1 </dev/null &
		nap=$!
		wait "$nap"
		echo "    ... still $what, $(elapsed) so far"
	done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null' EXIT

"$@"
rc=$?
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
if [ "$rc" -eq 0 ]; then
	echo "==> done: $what in $(elapsed)"
else
	echo "==> FAILED: $what after $(elapsed) (exit $rc)"
fi
exit "$rc"
