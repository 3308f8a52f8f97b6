#!/bin/bash
# Usage: normalize-jsonl.sh FILE.jsonl
# Prints lrmd-driver output with the time fields made comparable, so that two runs
# (the original daemon's golden file and ours) can be diffed line by line:
#   elapsed_ms, t_ms        removed (wall-clock of the driver)
#   t_run, t_rcchange       0 stays 0, anything else becomes "T" (epoch seconds)
#   exec_time, queue_time   rounded to whole seconds, as "~Ns"
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 FILE.jsonl" >&2; exit 2; }
jq -c '
  def epoch: if . == 0 then 0 else "T" end;
  def secs: "~\(((. + 500) / 1000) | floor)s";
  del(.elapsed_ms, .t_ms)
  | if .kind == "event"
    then .t_run |= epoch | .t_rcchange |= epoch | .exec_time |= secs | .queue_time |= secs
    else . end' "$1"
