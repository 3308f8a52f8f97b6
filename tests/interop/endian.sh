#!/bin/bash
# Usage: endian.sh BE_BINARY LE_BINARY
# Mixed byte order, no cluster. BE_BINARY is our daemon built for a big-endian board
# (cross/build s390x-generic); it runs under its qemu-user binary (chosen from its ELF header).
# LE_BINARY is our daemon built for this machine.
#  1. BE_BINARY serves Pacemaker's own little-endian client library in a fresh namespace:
#     lrmd-driver signs on, pokes, registers ocf:pcmkrtest:pcmkr-agent from a temporary agent
#     tree (PCMK_remoted_ocf_ra_path), runs a start and a 1 s recurring monitor, reads the
#     notifications (the monitor's result changes when the agent's state file goes), cancels,
#     stops, unregisters and disconnects; every result is checked field by field with jq.
#  2. LE_BINARY's `check` reaches the big-endian daemon.
#  3. BE_BINARY's `check` (under qemu) reaches LE_BINARY serving in the namespace.
# Exits 0 only if all three pass. Env: PCMKR_STATE_DIR, PCMKR_DRIVER, PCMKR_KEY, PCMKR_PORT.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -eq 2 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
be_bin=$(realpath "$1") le_bin=$(realpath "$2")

# The ELF header names the byte order and the machine, and so the emulator.
header=$(readelf -h "$be_bin") || pcmkr_die "$be_bin is not an ELF file"
grep -q 'big endian' <<<"$header" || pcmkr_die "$be_bin is not a big-endian binary"
case $(sed -n 's/^ *Machine: *//p' <<<"$header") in
"IBM S/390") qemu="qemu-s390x-static" ;;
PowerPC) qemu="qemu-ppc-static" ;;
PowerPC64) qemu="qemu-ppc64-static" ;;
*) pcmkr_die "no qemu-user binary known for $(sed -n 's/^ *Machine: *//p' <<<"$header")" ;;
esac
command -v "$qemu" >/dev/null || pcmkr_die "$qemu not found (Debian: qemu-user-static)"

state=$(pcmkr_state_dir endian)
ns=pcmkr-be-$$
rsc=pcmkr-be-$$
agent_state=/run/pcmkr-agent-$rsc.state
PCMKR_DAEMON_PID=''
cleanup() {
    local rc=$?
    trap - EXIT
    pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
    "$PCMKR_INTEROP_DIR/netns.sh" down "$ns"
    rm -f "$agent_state"
    pcmkr_log "logs: $state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

driver=$(pcmkr_driver "$state")
pcmkr_ensure_key
mkdir -p "$state/ocf/pcmkrtest"
install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-agent" "$state/ocf/pcmkrtest/pcmkr-agent"
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
addr=10.213.$x.2
"$PCMKR_INTEROP_DIR/netns.sh" up "$ns" "10.213.$x.1/$addr"

# 1. The big-endian daemon and liblrmd. Agents are shell scripts for this machine; qemu-user
# hands execve to the kernel, so they run natively.
pcmkr_daemon_start "$ns" "$state/be-daemon.log" env PCMK_remoted_ocf_ra_path="$state/ocf" \
    "$qemu" "$be_bin" --sysconfig none --port "$PCMKR_PORT" -V
pcmkr_log "big-endian daemon ($qemu) pid $PCMKR_DAEMON_PID in $ns ($addr)"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 30 ||
    pcmkr_die "big-endian daemon did not come up (see $state/be-daemon.log)"

seq=(
    connect poke events:1:10000
    "register:$rsc:ocf:pcmkrtest:pcmkr-agent" events:1:10000 "info:$rsc"
    "exec:$rsc:start:0:20000:0:stdout=started on a big-endian node" "wait:$rsc:start:20000"
    "exec:$rsc:monitor:1000:20000:0" "wait:$rsc:monitor:20000"
    "unlink:$agent_state" "wait:$rsc:monitor:10000"
    "cancel:$rsc:monitor:1000" "wait:$rsc:monitor:10000"
    "exec:$rsc:stop:0:20000:0" "wait:$rsc:stop:20000"
    "unregister:$rsc" events:1:10000 disconnect
)
rc=0
PCMK_authkey_location=$PCMKR_KEY "$driver" --server "$addr" --port "$PCMKR_PORT" \
    --timeout 180 "${seq[@]}" 2>"$state/driver.err" >"$state/driver.jsonl" || rc=$?
((rc == 0)) || { cat "$state/driver.jsonl" "$state/driver.err" >&2; pcmkr_die "driver exited with $rc"; }

# The exec_complete events in order: start, first monitor, monitor after the state file went,
# the cancelled monitor, stop. op_status 0 is "complete", 1 "cancelled".
got=$(jq -c 'select(.kind == "event" and .type == "exec_complete")
             | [.op_type, .interval_ms, .rc, .op_status]' "$state/driver.jsonl" | tr -d '\n')
want='["start",0,0,0]["monitor",1000,0,0]["monitor",1000,7,0]["monitor",1000,7,1]["stop",0,0,0]'
[[ $got == "$want" ]] || {
    cat "$state/driver.jsonl" >&2
    pcmkr_die "unexpected results from the big-endian daemon: $got (want $want)"
}
output=$(jq -r 'select(.type == "exec_complete" and .op_type == "start") | .output' \
    "$state/driver.jsonl")
[[ $output == "started on a big-endian node"* ]] ||
    pcmkr_die "agent output did not survive the trip: '$output'"
pcmkr_log "PASS: liblrmd (little-endian) drove the big-endian daemon: sign-on, poke," \
    "register, start, recurring monitor, change notified, cancel, stop, unregister"

# 2. Our little-endian `check` against the big-endian daemon.
"$le_bin" check "$addr" --port "$PCMKR_PORT" --authkey "$PCMKR_KEY" --timeout 30 \
    >"$state/check-le.out" 2>&1 || { cat "$state/check-le.out" >&2; pcmkr_die "little-endian check failed"; }
pcmkr_log "PASS: little-endian check reached the big-endian daemon"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 1 || pcmkr_die "big-endian daemon died"
pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
PCMKR_DAEMON_PID=''

# 3. Our big-endian `check`, under qemu, against the little-endian daemon.
pcmkr_daemon_start "$ns" "$state/le-daemon.log" "$le_bin" --sysconfig none --port "$PCMKR_PORT"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 10 ||
    pcmkr_die "little-endian daemon did not come up (see $state/le-daemon.log)"
"$qemu" "$be_bin" check "$addr" --port "$PCMKR_PORT" --authkey "$PCMKR_KEY" --timeout 30 \
    >"$state/check-be.out" 2>&1 || { cat "$state/check-be.out" >&2; pcmkr_die "big-endian check failed"; }
cat "$state/check-be.out" >&2
pcmkr_log "PASS: big-endian check reached the little-endian daemon"
