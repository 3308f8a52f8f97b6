#!/bin/bash
# Usage: tests/pcmk3/capture-vectors.sh CLUSTER LABEL
# Prints test vectors for the IPC layout detection (src/ipc/pcmk/vectors.txt): the first
# request datagram of each connection the node's own tools open, as the tools wrote it
# (strace from the host, so nothing in between can change a byte). CLUSTER is a running
# tests/roots/cluster whose remote node rn1 is online (any remote daemon); LABEL names the
# Pacemaker version of the node's tools (2.1.5, 3.0.0, 3.0.3). Needs root and strace.
# Output lines: LABEL TOOL whole|head HEX (head: only the 40-byte header, as strace cut a
# larger buffer short). Run by hand when a new Pacemaker version appears; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $# -eq 2 ]] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
cluster=$1 label=$2
command -v strace >/dev/null || { echo "capture-vectors: strace is needed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pcmkr-capture.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A value just under the kernel's 128 KiB argument limit: its request no longer fits 2.x's
# buffer (compressed) or 3.0.1+'s (split in parts).
big=$(head -c 131000 /dev/zero | tr '\0' x)
tools=(
    "crm_mon -1"
    "cibadmin -Q"
    "crm_attribute -N rn1 -n pcmkr-capture -v 1 -l reboot"
    "attrd_updater -Q -n pcmkr-capture -N rn1"
    "crm_resource --list"
    "attrd_updater -U $big -n pcmkr-capture-big -N rn1"
)
for t in "${tools[@]}"; do
    name=${t%% *}
    [[ $t == *pcmkr-capture-big* ]] && name=$name-large
    # shellcheck disable=SC2086 # the tool's words
    (timeout 60 strace -f -qq -e trace=writev,sendto -xx -s 512 -o "$tmp/st" \
        tests/roots/cluster "$cluster" node timeout 20 $t) >/dev/null 2>&1 || true
    # A tool that retries sends the same request again with the next id: keep one.
    python3 tests/pcmk3/strace-requests.py "$tmp/st" |
        awk -v l="$label" -v n="$name" '
            seen[substr($4, 9)]++ { next }
            $1 == "request" { print l, n, "whole", $4 }
            $1 == "request-head" { print l, n, "head", $4 }'
done
