#!/bin/bash
# Usage: cluster.sh start | stop | status | running (exit 0 if our cluster runs)
#        cluster.sh add-remote NAME ADDR [PORT]    ocf:pacemaker:remote, reconnect 5s, monitor 10s
#        cluster.sh remote-state NAME              prints "online" (crm_mon RemoteOnline and the
#                                                  controller's in_ccm=true) or "offline (LABEL, in_ccm=X)"
#        cluster.sh wait-remote NAME online|offline SECS   bounded wait; prints the state reached
#        cluster.sh remove-remote NAME             stop, delete, crm_node --force --remove
# A one-node cluster (node1, Debian's corosync.conf) run without systemd. The pids and
# the daemons' output live in $PCMKR_CLUSTER_DIR (default $TMPDIR/pcmkr-cluster), so
# stop works from another shell. start refuses to run next to cluster daemons it did
# not start, and wipes the stale CIB (/var/lib/pacemaker/cib/*) only when none runs.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

dir=${PCMKR_CLUSTER_DIR:-${TMPDIR:-/tmp}/pcmkr-cluster}
daemon_re='^(corosync|pacemakerd|pacemaker-(based|fence|execd|attrd|sched|contr).*)$'

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Prints the pid stored in $dir/NAME.pid if that process still runs as NAME.
our_pid() {
    local pid
    pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && pcmkr_pid_alive "$pid" && printf '%s\n' "$pid"
}

mon() { timeout 20 crm_mon -1 2>/dev/null; }

is_dc() { mon | grep -q "Current DC: node1"; }

cluster_start() {
    local others pid t0
    if our_pid pacemakerd >/dev/null && our_pid corosync >/dev/null; then
        pcmkr_log "cluster already running (ours, pids in $dir)"
        return 0
    fi
    # Only daemons of our PID and network namespaces clash with a cluster started here; the
    # clusters of tests/roots run in namespaces of their own.
    others=$(ps -eo pid=,stat=,comm= | awk -v re="$daemon_re" '$2 !~ /^Z/ && $3 ~ re' |
        while read -r pid rest; do
            [[ $(readlink "/proc/$pid/ns/pid") == $(readlink /proc/self/ns/pid) &&
               $(readlink "/proc/$pid/ns/net") == $(readlink /proc/self/ns/net) ]] &&
                printf '%s %s\n' "$pid" "$rest"
        done || true)
    [[ -z $others ]] || pcmkr_die "cluster daemons already running, not ours; refusing:
$others
(if an earlier run left them: PCMKR_CLUSTER_DIR=<its state>/cluster $0 stop)"
    mkdir -p "$dir"
    rm -f "$dir"/*.pid
    pcmkr_ensure_key
    # Nothing of ours runs, so the CIB on disk is stale: start from an empty one.
    rm -rf /var/lib/pacemaker/cib/*
    t0=$(pcmkr_now_ms)
    setsid corosync -f >"$dir/corosync.log" 2>&1 </dev/null &
    echo $! >"$dir/corosync.pid"
    pcmkr_wait_until 30 corosync-cfgtool -s || pcmkr_die "corosync not ready after 30 s ($dir/corosync.log)"
    setsid pacemakerd >"$dir/pacemakerd.log" 2>&1 </dev/null &
    echo $! >"$dir/pacemakerd.pid"
    pcmkr_log "corosync pid $(cat "$dir/corosync.pid"), pacemakerd pid $(cat "$dir/pacemakerd.pid"); waiting for DC"
    pcmkr_wait_until 120 is_dc || pcmkr_die "no DC after 120 s (see /var/log/pacemaker/pacemaker.log)"
    timeout 20 crm_attribute -t crm_config -n stonith-enabled -v false
    pcmkr_log "cluster up, node1 is DC after $(( $(pcmkr_now_ms) - t0 )) ms"
}

cluster_stop() {
    local pmk coro kids
    if pmk=$(our_pid pacemakerd); then
        kids=$(pgrep -P "$pmk" || true)
        pcmkr_log "stopping pacemakerd (pid $pmk)"
        pcmkr_stop_pid "$pmk" 120 pacemakerd
        for pid in $kids; do
            if pcmkr_pid_alive "$pid"; then
                pcmkr_log "WARNING: pacemakerd child $pid still running, sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    fi
    if coro=$(our_pid corosync); then
        pcmkr_log "stopping corosync (pid $coro)"
        pcmkr_stop_pid "$coro" 30 corosync
    fi
    rm -f "$dir"/*.pid
    pcmkr_log "cluster stopped"
}

# crm_mon's label for NAME (RemoteOnline, RemoteOFFLINE, ...; "absent" if not listed).
mon_label() {
    local out line
    out=$(mon) || { echo unknown; return 0; }
    while IFS= read -r line; do
        if [[ $line =~ ^[[:space:]]*\*[[:space:]]([A-Za-z]+):[[:space:]]\[(.*)\]$ ]] &&
            [[ " ${BASH_REMATCH[2]} " == *" $1 "* ]]; then
            echo "${BASH_REMATCH[1]}"; return 0
        fi
    done <<<"$out"
    echo absent
}

# The controller's own view: in_ccm of the node_state entry (true/false/none).
# crm_mon alone is not enough: it already says RemoteOnline while the connection
# resource's start is still pending (seen with no daemon listening at all).
connected() {
    local ns
    ns=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$1']" 2>/dev/null) || { echo none; return 0; }
    [[ $ns =~ in_ccm=\"([a-z]+)\" ]] && echo "${BASH_REMATCH[1]}" || echo none
}

# Prints "online" (RemoteOnline and connected) or "offline (<label>, in_ccm=<x>)".
remote_state() {
    local label conn
    label=$(mon_label "$1") conn=$(connected "$1")
    if [[ $label == RemoteOnline && $conn == true ]]; then
        echo online
    else
        echo "offline ($label, in_ccm=$conn)"
    fi
}

state_is() { [[ $(remote_state "$1") == "$2"* ]]; }

add_remote() {
    local name=$1 addr=$2 port=${3:-$PCMKR_PORT}
    timeout 20 cibadmin -C -o resources -X "<primitive id=\"$name\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\">
  <instance_attributes id=\"$name-ia\">
    <nvpair id=\"$name-server\" name=\"server\" value=\"$addr\"/>
    <nvpair id=\"$name-port\" name=\"port\" value=\"$port\"/>
    <nvpair id=\"$name-ri\" name=\"reconnect_interval\" value=\"5s\"/>
  </instance_attributes>
  <operations><op id=\"$name-mon\" name=\"monitor\" interval=\"10s\"/></operations>
</primitive>"
}

resource_stopped() {
    timeout 20 crm_resource -r "$1" -W 2>&1 | grep -q 'NOT running' && state_is "$1" offline
}

remove_remote() {
    timeout 20 crm_resource -r "$1" --meta -p target-role -v Stopped >/dev/null
    pcmkr_wait_until 60 resource_stopped "$1" || pcmkr_log "WARNING: $1 still running after 60 s, deleting anyway"
    timeout 20 cibadmin -D -o resources -X "<primitive id=\"$1\"/>"
    timeout 20 crm_resource -C -r "$1" >/dev/null 2>&1 || true
    timeout 20 crm_node --force --remove "$1" >/dev/null 2>&1 || true
    pcmkr_log "remote node $1 removed"
}

case ${1:-} in
start) cluster_start ;;
running) our_pid pacemakerd >/dev/null && our_pid corosync >/dev/null ;;
stop) cluster_stop ;;
status) mon ;;
add-remote) [[ $# -ge 3 ]] || usage; add_remote "$2" "$3" "${4:-}" ;;
remote-state) [[ $# -eq 2 ]] || usage; remote_state "$2" ;;
wait-remote)
    [[ $# -eq 4 ]] || usage
    pcmkr_wait_until "$4" state_is "$2" "$3" || { remote_state "$2"; exit 1; }
    remote_state "$2"
    ;;
remove-remote) [[ $# -eq 2 ]] || usage; remove_remote "$2" ;;
*) usage ;;
esac
