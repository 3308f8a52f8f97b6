#!/bin/bash
# Usage: bench/build.sh OUTDIR
# Builds the bench's C programs (lrmd-bench against liblrmd from pacemaker-dev, lifecycle,
# spawn-floor) into OUTDIR; rebuilds a program only when its source is newer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
flags=(-std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter)
build() { # NAME EXTRA-FLAGS...
    local name=$1; shift
    if [[ ! -x $out/$name || $here/$name.c -nt $out/$name || $here/util.h -nt $out/$name ]]; then
        gcc "${flags[@]}" -o "$out/$name.tmp" "$here/$name.c" "$@"
        mv "$out/$name.tmp" "$out/$name"
    fi
}
# shellcheck disable=SC2046 # pkg-config output must be split into words
build lrmd-bench $(pkg-config --cflags --libs pacemaker-lrmd pacemaker glib-2.0) -lm
build lifecycle
build spawn-floor -lm
