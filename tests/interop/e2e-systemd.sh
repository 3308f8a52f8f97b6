#!/bin/bash
# Usage: e2e-systemd.sh DAEMON
# A systemd: resource on our node in a real cluster. The one-node cluster of cluster.sh (on
# this host) gets as remote node "rnsd" our DAEMON (linked for this host's Debian 12) running
# inside a Debian 12 root booted with its real systemd 252 (tests/roots/boot
# bookworm-systemd), as a transient unit of that systemd, reached over the boot's veth:
#   online      the node comes online
#   started     systemd:pcmkr-test (a Type=simple unit made here; monitor 5 s), allowed only
#               on rnsd, starts there: the unit is active, with the cluster's drop-in
#   recovered   its main process killed with SIGKILL (systemctl kill): the monitor reports
#               it ('not running'), the cluster stops and starts it again on rnsd, with a new
#               main process
#   drained     `systemctl stop` of our daemon (SIGTERM): the daemon drains, the cluster
#               stops the resource on rnsd (it may run nowhere else) before the daemon exits
#   teardown    resource, constraint and node removed, boot stopped, the cluster stopped if
#               this run started it
# Prints "TIMING <step> <ms>" and a final PASS on stdout; progress on stderr. Takes
# /run/lock/pcmkr-interop.lock (one root-namespace cluster per machine).
# Env: PCMKR_STATE_DIR, PCMKR_STEP_TIMEOUT (60 s per wait), PCMKR_KEY, PCMKR_PORT.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=e2e-lib.sh
source "$(dirname "$0")/e2e-lib.sh"
[[ $# -eq 1 ]] || { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
daemon=$(realpath "$1")

STEP_TIMEOUT=${PCMKR_STEP_TIMEOUT:-60}
CLUSTER="$PCMKR_INTEROP_DIR/cluster.sh"
CLUSTER_LOG=/var/log/pacemaker/pacemaker.log
ROOTS=$PCMKR_REPO_ROOT/tests/roots
NAME=bookworm-systemd
NODE=rnsd
RSC=sd1
STATE=$(pcmkr_state_dir e2e-systemd)
export PCMKR_CLUSTER_DIR=${PCMKR_CLUSTER_DIR:-$STATE/cluster}
STARTED_CLUSTER='' LOG_OFFSET=0 CREATED=() booted=0 added=0
B() { "$ROOTS/boot" "$NAME" "$@"; }
timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }

teardown() {
    local rc=$?
    trap - EXIT
    pcmkr_log "== teardown"
    snapshot teardown
    remove_resources || rc=1
    if ((added)); then "$CLUSTER" remove-remote "$NODE" || rc=1; fi
    if ((booted)); then
        B exec journalctl --no-pager -o short-monotonic >"$STATE/journal.txt" 2>&1 || true
        B stop >>"$STATE/boot.log" 2>&1 || { pcmkr_log "boot stop failed"; rc=1; }
    fi
    if [[ -n $STARTED_CLUSTER ]]; then "$CLUSTER" stop || rc=1; fi
    tail -c +$((LOG_OFFSET + 1)) "$CLUSTER_LOG" >"$STATE/pacemaker.log" 2>/dev/null || true
    pcmkr_log "logs: $STATE"
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# in_root CMD...: CMD inside the booted root; unit_is STATE: pcmkr-test's ActiveState.
in_root() { B exec "$@"; }
unit_is() { [[ $(in_root systemctl show -P ActiveState pcmkr-test.service) == "$1" ]]; }
main_pid() { in_root systemctl show -P MainPID pcmkr-test.service; }
failure() {
    mon_xml | xq "//failures/failure[starts-with(@op_key,'$1_') and @node='$2' and @exitstatus='not running']" \
        >/dev/null
}
ours_gone() { [[ $(in_root systemctl show -P ActiveState pcmkr-ours.service) != active ]]; }

pcmkr_ensure_key
cluster_up "systemd: resource"
"$ROOTS/build" "$NAME" >"$STATE/build.log" 2>&1 ||
    { tail -5 "$STATE/build.log" >&2; pcmkr_die "tests/roots/build $NAME failed"; }
B status >/dev/null 2>&1 && pcmkr_die "$NAME is already booted by someone else"
booted=1
B start >"$STATE/boot.log" 2>&1 || { cat "$STATE/boot.log" >&2; pcmkr_die "boot $NAME failed"; }
root=$(B root) addr=$(B addr)
install -m 640 "$PCMKR_KEY" "$root/etc/pacemaker/authkey"
in_root chgrp haclient /etc/pacemaker/authkey
install -m 755 "$daemon" "$root/usr/local/sbin/pcmk-remoted"
cat >"$root/etc/systemd/system/pcmkr-test.service" <<'EOF'
[Unit]
Description=pcmkr cluster test unit

[Service]
Type=simple
ExecStart=/bin/sleep infinity
EOF
in_root systemctl daemon-reload
in_root systemd-run --unit=pcmkr-ours --property=KillMode=process \
    --property=TimeoutStopSec=120 /usr/local/sbin/pcmk-remoted >"$STATE/daemon-start.log" 2>&1 ||
    pcmkr_die "could not start our daemon in $NAME"
B wait-listen "$PCMKR_PORT" 15 >/dev/null || pcmkr_die "our daemon does not listen in $NAME"
pcmkr_log "our daemon runs in $NAME ($addr) under its systemd"

pcmkr_log "== online"
t0=$(pcmkr_now_ms)
"$CLUSTER" add-remote "$NODE" "$addr" "$PCMKR_PORT"
added=1
"$CLUSTER" wait-remote "$NODE" online "$STEP_TIMEOUT" >/dev/null || pcmkr_die "$NODE not online"
timing online $(( $(pcmkr_now_ms) - t0 ))

pcmkr_log "== started"
t0=$(pcmkr_now_ms)
create "$RSC" "<primitive id=\"$RSC\" class=\"systemd\" type=\"pcmkr-test\"><operations>
  <op id=\"$RSC-start\" name=\"start\" interval=\"0\" timeout=\"30s\"/>
  <op id=\"$RSC-stop\" name=\"stop\" interval=\"0\" timeout=\"30s\"/>
  <op id=\"$RSC-mon\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/></operations></primitive>" \
    "$(only_on "$RSC" "$NODE")"
step started rsc_on "$RSC" "$NODE"
unit_is active || pcmkr_die "the cluster says started, but pcmkr-test is $(in_root systemctl show -P ActiveState pcmkr-test.service)"
dropin=$(in_root cat /run/systemd/system/pcmkr-test.service.d/50-pacemaker.conf) ||
    pcmkr_die "no drop-in for pcmkr-test"
grep -qx 'Restart=no' <<<"$dropin" || pcmkr_die "drop-in without Restart=no: $dropin"
pid1=$(main_pid)
pcmkr_log "pcmkr-test active, main pid $pid1 (in $NAME), drop-in in place"

pcmkr_log "== recovered"
t0=$(pcmkr_now_ms)
in_root systemctl kill --signal=KILL --kill-who=main pcmkr-test.service
step failure_seen failure "$RSC" "$NODE"
step recovered rsc_on "$RSC" "$NODE"
pcmkr_wait_until "$STEP_TIMEOUT" unit_is active || pcmkr_die "pcmkr-test not active again"
pid2=$(main_pid)
[[ $pid2 != "$pid1" && $pid2 != 0 ]] || pcmkr_die "pcmkr-test's main pid did not change ($pid1, $pid2)"
timing kill_to_recovered $(( $(pcmkr_now_ms) - t0 ))
log_has "$RSC.*(stop|Stop)" || pcmkr_log "NOTE: no stop of $RSC in the cluster log"
timeout 20 crm_resource -C -r "$RSC" >/dev/null 2>&1 || true

pcmkr_log "== drained"
t0=$(pcmkr_now_ms)
# systemctl stop sends SIGTERM and waits until the daemon exits (TimeoutStopSec, 120 s).
timeout 150 "$ROOTS/boot" "$NAME" exec systemctl stop pcmkr-ours.service ||
    pcmkr_die "systemctl stop of our daemon failed"
timing drain_stop $(( $(pcmkr_now_ms) - t0 ))
ours_gone || pcmkr_die "our daemon still runs after systemctl stop"
unit_is active && pcmkr_die "the drain ended with pcmkr-test still running on $NODE"
log_has "(Stop|stop).*$RSC|$RSC.*(stop|Stop)" || pcmkr_die "the cluster log shows no stop of $RSC"
step resource_stopped rsc_stopped "$RSC"
pcmkr_log "PASS: the cluster stopped $RSC on $NODE during the drain; the daemon then exited"
echo PASS
