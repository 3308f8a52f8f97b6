#!/bin/bash
# Usage: build-driver.sh OUTDIR
# Builds lrmd-driver.c against the installed liblrmd (pacemaker-dev) into OUTDIR
# and prints the binary's absolute path. Rebuilds only when the source is newer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)/lrmd-driver
if [[ ! -x $out || $here/lrmd-driver.c -nt $out ]]; then
    # shellcheck disable=SC2046 # pkg-config output must be split into words
    gcc -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -o "$out.tmp" "$here/lrmd-driver.c" \
        $(pkg-config --cflags --libs pacemaker-lrmd pacemaker glib-2.0) >&2
    mv "$out.tmp" "$out"
fi
printf '%s\n' "$out"
