#!/bin/bash
# Usage: netns.sh up NAME HOSTIP/NSIP   e.g. netns.sh up pcmkr-rn1-123 10.213.7.1/10.213.7.2
#        netns.sh down NAME
#        netns.sh exec NAME CMD...
#        netns.sh free-subnet            prints X such that 10.213.X.0/30 is unused here
# NAME must start with "pcmkr". The veth pair is pcmkrXXXXXXXXh (host side) /
# pcmkrXXXXXXXXn (namespace side), XXXXXXXX derived from NAME; both addresses are /30.
set -euo pipefail

veth_base() { printf 'pcmkr%08x' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"; }

check_name() {
    [[ $1 == pcmkr* && $1 =~ ^[A-Za-z0-9_.-]+$ ]] ||
        { echo "netns.sh: namespace name must start with pcmkr: $1" >&2; exit 2; }
}

cmd=${1:-}
case $cmd in
up)
    [[ $# -eq 3 && $3 == */* ]] || { echo "usage: $0 up NAME HOSTIP/NSIP" >&2; exit 2; }
    name=$2 hostip=${3%/*} nsip=${3#*/} base=$(veth_base "$2")
    check_name "$name"
    if ip -o addr show | grep -qwF "$hostip/30"; then
        echo "netns.sh: $hostip is already in use on this host" >&2; exit 1
    fi
    ip netns add "$name"
    if ! { ip link add "${base}h" type veth peer name "${base}n" &&
           ip link set "${base}n" netns "$name" &&
           ip addr add "$hostip/30" dev "${base}h" && ip link set "${base}h" up &&
           ip -n "$name" addr add "$nsip/30" dev "${base}n" &&
           ip -n "$name" link set "${base}n" up && ip -n "$name" link set lo up; }; then
        ip link del "${base}h" 2>/dev/null || true
        ip netns del "$name" 2>/dev/null || true
        echo "netns.sh: could not set up $name" >&2; exit 1
    fi
    ;;
down)
    [[ $# -eq 2 ]] || { echo "usage: $0 down NAME" >&2; exit 2; }
    check_name "$2"
    # Deleting either end removes the pair; the namespace end goes with the namespace.
    ip link del "$(veth_base "$2")h" 2>/dev/null || true
    ip netns del "$2" 2>/dev/null || true
    ;;
exec)
    [[ $# -ge 3 ]] || { echo "usage: $0 exec NAME CMD..." >&2; exit 2; }
    check_name "$2"
    name=$2; shift 2
    exec ip netns exec "$name" "$@"
    ;;
free-subnet)
    used=$(ip -o -4 addr show | awk '{print $4}')
    for x in $(shuf -i 1-254); do
        grep -q "^10\.213\.$x\." <<<"$used" || { echo "$x"; exit 0; }
    done
    echo "netns.sh: no free 10.213.X.0/30 subnet" >&2; exit 1
    ;;
*)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2
    ;;
esac
