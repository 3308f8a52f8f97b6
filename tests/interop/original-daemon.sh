#!/bin/bash
# Usage: original-daemon.sh [DIR]
# Makes sure Debian's original pacemaker-remoted is unpacked in DIR (default
# <repo>/target/original) and prints the absolute path of its binary. Idempotent.
# The package conflicts with the installed "pacemaker", hence download + dpkg -x.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../target/original}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=$dir/usr/sbin/pacemaker-remoted

if [[ ! -x $bin ]]; then
    dl=$(mktemp -d "${TMPDIR:-/tmp}/pcmkr-deb.XXXXXX")
    trap 'rm -rf "$dl"' EXIT
    # apt-get download writes into the current directory; _apt must be able to write there.
    chmod 777 "$dl"
    (cd "$dl" && timeout 300 apt-get download -q pacemaker-remote >&2) ||
        { echo "original-daemon.sh: apt-get download pacemaker-remote failed" >&2; exit 1; }
    dpkg -x "$dl"/pacemaker-remote_*.deb "$dir"
    [[ -x $bin ]] || { echo "original-daemon.sh: $bin missing after dpkg -x" >&2; exit 1; }
fi
printf '%s\n' "$bin"
