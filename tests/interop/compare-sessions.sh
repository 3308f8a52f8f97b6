#!/bin/bash
# Usage: compare-sessions.sh EXPECTED.jsonl ACTUAL.jsonl
# Compares two lrmd-driver sessions (golden-sequence.sh output) field by field: every field
# must be equal except times. Epoch times must agree on being zero or not; exec_time and
# queue_time may differ by at most PCMKR_TIME_SLACK_MS (default 300 ms), which covers the
# original's ~88 ms delayed-ACK stall per request. Prints the differences; exit 1 if any.
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
slack=${PCMKR_TIME_SLACK_MS:-300}
strip='def epoch: if . == 0 then 0 else "T" end;
  del(.elapsed_ms, .t_ms, .exec_time, .queue_time)
  | if .kind == "event" then .t_run |= epoch | .t_rcchange |= epoch else . end'
times='if .kind == "event" then [.exec_time, .queue_time] else [0, 0] end'
if ! diff <(jq -c "$strip" "$1") <(jq -c "$strip" "$2"); then
    echo "sessions differ (see above)" >&2
    exit 1
fi
bad=$(paste -d' ' <(jq -c "$times" "$1") <(jq -c "$times" "$2") | awk -v s="$slack" '
  { gsub(/[\[\]]/, ""); split($1, a, ","); split($2, b, ",");
    for (i = 1; i <= 2; i++) { d = a[i] - b[i]; if (d < 0) d = -d;
      if (d > s) { printf "line %d: %s vs %s\n", NR, $1, $2; break } } }')
if [[ -n "$bad" ]]; then
    echo "times differ by more than ${slack} ms:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "sessions match ($(wc -l < "$1") lines; times within ${slack} ms)"
