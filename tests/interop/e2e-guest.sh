#!/bin/bash
# Usage: e2e-guest.sh DAEMON
# Guest nodes, as the guides configure them, on the root-namespace one-node cluster: the
# test agent ocf:<provider>:pcmkr-guest creates a "guest" (a network namespace with its own
# address and /run, standing in for a VM) and starts DAEMON (a path: ours or Debian's
# original) in it; the resource's meta attributes remote-node, remote-addr, remote-port and
# remote-connect-timeout make it guest node pcmkr-g1. A Dummy runs on the guest only.
#   online         the guest starts and pcmkr-g1 comes online (GuestOnline, connected)
#   dummy          ocf:pacemaker:Dummy runs on pcmkr-g1 (its state file is in the guest's
#                  own /run) and its 5 s monitor is recorded
#   kill_daemon    SIGKILL to the daemon: the node goes offline, the guest resource is
#                  recovered, the node and the Dummy come back
#   kill_guest     every process of the guest killed and its namespace deleted: the same
#   drain          (PCMKR_GUEST_PID1=1 only) SIGTERM to the daemon, PID 1 of the guest's own
#                  PID namespace: the cluster stops the Dummy, then the daemon exits 0; the
#                  node is offline and the guest is not restarted (a graceful leave)
#   stop           the guest resource's target-role Stopped: the Dummy is stopped first (no
#                  resource left in the guest when the guest's stop runs), then the guest
# Prints "TIMING <step> <ms>", "RESULT <name> <value>" and a final PASS/FAIL on stdout.
# PCMKR_DAEMON_KIND=original: the drain's exit is measured, not asserted (the original's
# container init swallows SIGTERM, protocol.md 2.6).
# Env: PCMKR_GUEST_PID1 (0), PCMKR_GUEST_PORT (3125), PCMKR_DAEMON_KIND, PCMKR_STATE_DIR,
# PCMKR_STEP_TIMEOUT (90 s per wait), PCMKR_KEY.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=e2e-lib.sh
source "$(dirname "$0")/e2e-lib.sh"
[[ $# -eq 1 && -x $1 ]] || { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DAEMON=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

STEP_TIMEOUT=${PCMKR_STEP_TIMEOUT:-90}
CLUSTER="$PCMKR_INTEROP_DIR/cluster.sh"
CLUSTER_LOG=/var/log/pacemaker/pacemaker.log
KIND=${PCMKR_DAEMON_KIND:-ours}
PID1=${PCMKR_GUEST_PID1:-0}
PORT=${PCMKR_GUEST_PORT:-3125}
GUEST=pcmkr-g1 VM=pcmkr-vm1 DUMMY=pcmkr-gd1
GUEST_NS=pcmkr-guest-$$
PROVIDER=pcmkrguest$$
OCF_DIR=/usr/lib/ocf/resource.d/$PROVIDER
STATE=$(pcmkr_state_dir e2e-guest)
GSTATE=$STATE/guest
export PCMKR_CLUSTER_DIR=${PCMKR_CLUSTER_DIR:-$STATE/cluster}
STARTED_CLUSTER='' LOG_OFFSET=0 TORN_DOWN='' CREATED=()

timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }
result() { echo "RESULT $1 $2"; pcmkr_log "$1: $2"; }

# ---- queries ----------------------------------------------------------------------------

# guest_state: "online" (crm_mon lists pcmkr-g1 as GuestOnline and the controller's
# node_state says in_ccm=true, as cluster.sh's remote-state does for remote nodes), or
# "offline (LABEL, in_ccm=X)".
guest_state() {
    local out line w label=absent conn=none ns
    out=$(timeout 20 crm_mon -1 2>/dev/null) || { echo "offline (unknown)"; return 0; }
    while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*\*[[:space:]]([A-Za-z]+):[[:space:]]\[(.*)\]$ ]] || continue
        for w in ${BASH_REMATCH[2]}; do
            [[ ${w%@*} == "$GUEST" ]] && label=${BASH_REMATCH[1]}
        done
    done <<<"$out"
    ns=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$GUEST']" 2>/dev/null) || true
    [[ $ns =~ in_ccm=\"([a-z]+)\" ]] && conn=${BASH_REMATCH[1]}
    if [[ $label == GuestOnline && $conn == true ]]; then echo online; else echo "offline ($label, in_ccm=$conn)"; fi
}
guest_online() { [[ $(guest_state) == online ]]; }
guest_offline() { [[ $(guest_state) != online ]]; }

# The guest's first process (its "init"), and the daemon's host pid: the daemon itself, or
# with PCMKR_GUEST_PID1=1 the PID 1 of its PID namespace (wrapper → unshare → PID 1).
init_pid() { local p; p=$(cat "$GSTATE/init.pid" 2>/dev/null) && pcmkr_pid_alive "$p" && echo "$p"; }
child_of() { local c; c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) && c=${c%% *} && [[ -n $c ]] && echo "$c"; }
daemon_pid() {
    local p u
    p=$(cat "$GSTATE/daemon.pid" 2>/dev/null) && pcmkr_pid_alive "$p" || return 1
    if [[ $PID1 == 1 ]]; then
        u=$(child_of "$p") && p=$(child_of "$u") || return 1
    fi
    echo "$p"
}
starts() { grep -c ': guest .* up' "$GSTATE/agent.log" 2>/dev/null || true; }
# The Dummy's state file (ocf:pacemaker:Dummy keeps it in /run) inside the guest's own /run,
# seen through its init's root.
dummy_file_in_guest() {
    local p
    p=$(init_pid) && [[ -e /proc/$p/root/run/Dummy-$DUMMY.state ]]
}
dummy_on_guest() { rsc_on "$DUMMY" "$GUEST" && dummy_file_in_guest; }
monitor_ok() {
    local op
    op=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$GUEST']//lrm_rsc_op[@id='${DUMMY}_monitor_5000']" 2>/dev/null) || return 1
    [[ $op == *'rc-code="0"'* && $op == *'op-status="0"'* ]]
}

# recover NAME: after a failure was caused at T0: offline, then online with the Dummy back.
recover() {
    local name=$1 t0=$T0 before=$2
    pcmkr_wait_until "$STEP_TIMEOUT" guest_offline || fail_step "${name}_noticed"
    timing "${name}_noticed" $(( $(pcmkr_now_ms) - t0 ))
    pcmkr_wait_until "$STEP_TIMEOUT" guest_online || fail_step "${name}_online"
    timing "${name}_online_again" $(( $(pcmkr_now_ms) - t0 ))
    pcmkr_wait_until "$STEP_TIMEOUT" dummy_on_guest || fail_step "${name}_dummy"
    timing "${name}_dummy_again" $(( $(pcmkr_now_ms) - t0 ))
    result "${name}_guest_restarted" "$( (( $(starts) > before )) && echo yes || echo no)"
    snapshot "after-$name"
}
fail_step() {
    local p
    snapshot "fail-$1"
    mon_xml >"$STATE/crm_mon-fail-$1.xml" 2>&1 || true
    p=$(init_pid) && ls -la "/proc/$p/root/run/" >"$STATE/guest-run-fail-$1.txt" 2>&1
    sed 's/^/  /' "$STATE/crm_mon-fail-$1.txt" >&2
    pcmkr_die "$1: not reached within $STEP_TIMEOUT s (guest: $(guest_state))"
}

# ---- set-up and tear-down -----------------------------------------------------------------

teardown() {
    local ok=0 p
    [[ -n $TORN_DOWN ]] && return 0
    TORN_DOWN=1
    remove_resources || ok=1
    timeout 20 crm_node --force --remove "$GUEST" >/dev/null 2>&1 || true
    if [[ $(guest_state) != "offline (absent, in_ccm=none)" ]]; then
        pcmkr_log "node $GUEST still known to the cluster: $(guest_state)"; ok=1
    fi
    # The agent's stop removed the guest; anything left (a failed stop) goes here.
    if ip netns list | grep -qw "^$GUEST_NS"; then
        pcmkr_log "WARNING: guest namespace left behind; removing it"
        for p in $(ip netns pids "$GUEST_NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        "$PCMKR_INTEROP_DIR/netns.sh" down "$GUEST_NS"
        ok=1
    fi
    if [[ -n $STARTED_CLUSTER ]]; then
        "$CLUSTER" stop || ok=1
        STARTED_CLUSTER=''
    fi
    rm -rf "$OCF_DIR"
    return $ok
}

on_exit() {
    local rc=$?
    trap - EXIT
    teardown || { pcmkr_log "WARNING: tear-down incomplete"; rc=1; }
    tail -c +$((LOG_OFFSET + 1)) "$CLUSTER_LOG" >"$STATE/pacemaker.log" 2>/dev/null || true
    if (( rc == 0 )); then echo "PASS (logs: $STATE)"; else echo "FAIL (logs: $STATE)"; fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cluster_up "$KIND daemon $DAEMON, pid1=$PID1, state in $STATE"
[[ $(guest_state) == "offline (absent, in_ccm=none)" ]] || pcmkr_die "node $GUEST already exists in the cluster"
pcmkr_ensure_key
mkdir -p "$GSTATE" "$OCF_DIR"
install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-guest" "$OCF_DIR/pcmkr-guest"
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
HOST_IP=10.213.$x.1 GUEST_IP=10.213.$x.2
pid1_true=false
[[ $PID1 == 1 ]] && pid1_true=true

vm_xml="<primitive id=\"$VM\" class=\"ocf\" provider=\"$PROVIDER\" type=\"pcmkr-guest\">
  <instance_attributes id=\"$VM-ia\">
    <nvpair id=\"$VM-name\" name=\"name\" value=\"$GUEST_NS\"/>
    <nvpair id=\"$VM-host\" name=\"host_ip\" value=\"$HOST_IP\"/>
    <nvpair id=\"$VM-guest\" name=\"guest_ip\" value=\"$GUEST_IP\"/>
    <nvpair id=\"$VM-daemon\" name=\"daemon\" value=\"$DAEMON\"/>
    <nvpair id=\"$VM-port\" name=\"port\" value=\"$PORT\"/>
    <nvpair id=\"$VM-key\" name=\"key\" value=\"$PCMKR_KEY\"/>
    <nvpair id=\"$VM-state\" name=\"state_dir\" value=\"$GSTATE\"/>
    <nvpair id=\"$VM-pid1\" name=\"pid1\" value=\"$pid1_true\"/>
    <nvpair id=\"$VM-aspid1\" name=\"as_pid1\" value=\"$PCMKR_INTEROP_DIR/as-pid1.sh\"/>
  </instance_attributes>
  <meta_attributes id=\"$VM-meta\">
    <nvpair id=\"$VM-remote-node\" name=\"remote-node\" value=\"$GUEST\"/>
    <nvpair id=\"$VM-remote-addr\" name=\"remote-addr\" value=\"$GUEST_IP\"/>
    <nvpair id=\"$VM-remote-port\" name=\"remote-port\" value=\"$PORT\"/>
    <nvpair id=\"$VM-remote-connect-timeout\" name=\"remote-connect-timeout\" value=\"30s\"/>
  </meta_attributes>
  <operations>
    <op id=\"$VM-start\" name=\"start\" interval=\"0\" timeout=\"30s\"/>
    <op id=\"$VM-stop\" name=\"stop\" interval=\"0\" timeout=\"30s\"/>
    <op id=\"$VM-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"10s\"/>
  </operations>
</primitive>"
dummy_xml="<primitive id=\"$DUMMY\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">
  <operations><op id=\"$DUMMY-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/></operations>
</primitive>"

pcmkr_log "== online: the guest resource starts and $GUEST joins (port $PORT)"
T0=$(pcmkr_now_ms)
CREATED+=("$VM" "$DUMMY")
timeout 20 cibadmin -M -X "<cib><configuration><resources>$vm_xml$dummy_xml</resources><constraints>$(only_on "$DUMMY" "$GUEST")</constraints></configuration></cib>" ||
    pcmkr_die "could not create the resources"
pcmkr_wait_until "$STEP_TIMEOUT" guest_online || fail_step online
timing guest_online $(( $(pcmkr_now_ms) - T0 ))
pcmkr_log "guest init pid $(init_pid), daemon pid $(daemon_pid)"

pcmkr_log "== dummy: a resource placed on the guest runs there"
pcmkr_wait_until "$STEP_TIMEOUT" dummy_on_guest || fail_step dummy
timing dummy_running $(( $(pcmkr_now_ms) - T0 ))
pcmkr_wait_until "$STEP_TIMEOUT" monitor_ok || fail_step dummy_monitor
timing dummy_monitored $(( $(pcmkr_now_ms) - T0 ))
[[ ! -e /run/Dummy-$DUMMY.state ]] || pcmkr_die "the Dummy's state file is on the host, not in the guest"
snapshot online

pcmkr_log "== kill_daemon: SIGKILL to the daemon in the guest"
d=$(daemon_pid) || pcmkr_die "no daemon pid"
n=$(starts)
T0=$(pcmkr_now_ms)
kill -KILL "$d"
recover kill_daemon "$n"

pcmkr_log "== kill_guest: every process of the guest killed, its namespace deleted"
n=$(starts)
T0=$(pcmkr_now_ms)
for p in $(ip netns pids "$GUEST_NS"); do kill -KILL "$p" 2>/dev/null || true; done
"$PCMKR_INTEROP_DIR/netns.sh" down "$GUEST_NS"
recover kill_guest "$n"

if [[ $PID1 == 1 ]]; then
    pcmkr_log "== drain: SIGTERM to the daemon, PID 1 of the guest's PID namespace"
    d=$(daemon_pid) || pcmkr_die "no daemon pid"
    drain_offset=$(stat -c %s "$CLUSTER_LOG")
    T0=$(pcmkr_now_ms)
    kill -TERM "$d"
    status=''
    exited() { [[ -s $GSTATE/daemon.exit ]]; }
    if pcmkr_wait_until "$STEP_TIMEOUT" exited; then
        status=$(cat "$GSTATE/daemon.exit")
        timing drain_exit $(( $(pcmkr_now_ms) - T0 ))
        result drain_exit_status "$status"
        dummy_file_in_guest && pcmkr_die "the daemon exited with the Dummy still running in the guest"
        tail -c +$((drain_offset + 1)) "$CLUSTER_LOG" |
            grep -E "Result of stop operation for $DUMMY on $GUEST: ok" >/dev/null ||
            pcmkr_die "no successful stop of $DUMMY on $GUEST in the cluster log before the exit"
        [[ $KIND == original || $status == 0 ]] || pcmkr_die "exit status $status after the drain, expected 0"
    elif [[ $KIND == original ]]; then
        result drain_exit_status "none: SIGTERM swallowed, still running after $STEP_TIMEOUT s"
    else
        fail_step drain
    fi
    snapshot after-drain
    # A graceful leave, not a crash: the node is offline with its Dummy stopped, and the
    # guest was not "fenced" (restarted). The cluster leaves the connection stopped until
    # the guest resource restarts (as for a remote node after a graceful stop).
    if [[ -n $status ]]; then
        n=$(starts)
        left_cleanly() { guest_offline && rsc_stopped "$DUMMY"; }
        pcmkr_wait_until "$STEP_TIMEOUT" left_cleanly || fail_step drain_left
        timing drain_node_offline $(( $(pcmkr_now_ms) - T0 ))
        sleep 5
        (( $(starts) == n )) || pcmkr_die "the guest was restarted after a graceful drain"
        result drain_guest_restarted no
    fi
fi

pcmkr_log "== stop: the guest resource stops, its resources first"
T0=$(pcmkr_now_ms)
set_role "$VM" Stopped
vm_stopped() { rsc_stopped "$VM" && rsc_stopped "$DUMMY" && guest_offline; }
pcmkr_wait_until "$STEP_TIMEOUT" vm_stopped || fail_step stop
timing guest_stopped $(( $(pcmkr_now_ms) - T0 ))
left=$(sed -n 's/.*resource state files left in the guest at stop: \([0-9]*\).*/\1/p' "$GSTATE/agent.log" | tail -n1)
[[ $left == 0 ]] || pcmkr_die "the guest's stop found '${left:-no count}' resources still running inside"
ip netns list | grep -qw "^$GUEST_NS" && pcmkr_die "the guest's namespace is still there after stop"
sed -n 's/.*stop: \(daemon exited .*\)/\1/p' "$GSTATE/agent.log" | tail -n1 | sed 's/^/RESULT stop_daemon /'
pcmkr_log "== clean up"
