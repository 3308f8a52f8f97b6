#!/bin/bash
# Usage: e2e-executor.sh DAEMON_CMD...
# End-to-end resource execution: a one-node cluster and DAEMON_CMD as two remote nodes, rn1
# and rn2, each in its own network namespace, in one cluster run:
#   join        both nodes online
#   d1_*        ocf:pacemaker:Dummy d1 on rn1, monitor 5s; its state file deleted, the monitor
#               fails ('not running') and the cluster restarts it on rn1; failure cleaned up
#   lsb_*       an LSB script of ours (/etc/init.d/pcmkr-e2e-lsb-PID) starts on rn2, stops
#   ip_*        ocf:heartbeat:IPaddr2 on a veth inside rn1's namespace: address added,
#               removed when stopped
#   d2_*        a per-node Dummy with allow-migrate=true moved from rn1 to rn2: migrate_to on
#               rn1 and migrate_from on rn2 in the cluster log, Started on rn2
#   t1_*        Dummy with op_sleep=5 and start timeout 2s: reported 'Timed Out', ends
#               stopped (migration-threshold=1, start failures are fatal), cleaned up and
#               probed again
#   teardown    every resource, constraint and node removed, daemons, namespaces and (if it
#               started it) the cluster stopped, test files removed
# Prints "TIMING <step> <ms>" and a final PASS/FAIL on stdout; progress on stderr. The
# cluster log of the run, crm_mon snapshots and the daemons' logs stay in the state dir.
# Env: PCMKR_STATE_DIR, PCMKR_STEP_TIMEOUT (60 s per wait), PCMKR_KEY, PCMKR_PORT.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=e2e-lib.sh
source "$(dirname "$0")/e2e-lib.sh"
[[ $# -ge 1 ]] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

STEP_TIMEOUT=${PCMKR_STEP_TIMEOUT:-60}
CLUSTER="$PCMKR_INTEROP_DIR/cluster.sh"
NETNS="$PCMKR_INTEROP_DIR/netns.sh"
CLUSTER_LOG=/var/log/pacemaker/pacemaker.log
NODES=(rn1 rn2)
LSB_NAME=pcmkr-e2e-lsb-$$
LSB_SCRIPT=/etc/init.d/$LSB_NAME
LSB_STATE=/run/$LSB_NAME.state
OCF_PROVIDER=pcmkre2e$$
OCF_DIR=/usr/lib/ocf/resource.d/$OCF_PROVIDER
# IPaddr2's interface: one end of a veth pair inside rn1's namespace (no "dummy" driver here).
VIP_IF=pcmkrd$$ VIP_PEER=pcmkre$$
# Resources in creation order.
RESOURCES=(d1 l1 ip1 d2 t1)

declare -A NS=() ADDR=() PID=()
STATE=$(pcmkr_state_dir e2e-executor)
export PCMKR_CLUSTER_DIR=${PCMKR_CLUSTER_DIR:-$STATE/cluster}
STARTED_CLUSTER='' LOG_OFFSET=0 TORN_DOWN='' CREATED=() ADDED=()

timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }

# ---- cluster queries -------------------------------------------------------------------

# mon_xml, snapshot, xq, rsc_on and rsc_stopped come from e2e-lib.sh.

# failure RSC NODE ATTR VALUE: crm_mon lists a failed action of RSC on NODE with ATTR=VALUE
# (e.g. exitstatus="not running", status="Timed Out").
failure() {
    mon_xml | xq "//failures/failure[starts-with(@op_key,'$1_') and @node='$2' and @$3='$4']" \
        >/dev/null
}

no_failures() { ! mon_xml | xq "//failures/failure[starts-with(@op_key,'$1_')]" >/dev/null; }

# op_ok RSC NODE INTERVAL_MS: the CIB records a successful run of that monitor on NODE.
op_ok() {
    local op
    op=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$2']//lrm_rsc_op[@id='$1_monitor_$3']" 2>/dev/null) || return 1
    [[ $op == *'rc-code="0"'* && $op == *'op-status="0"'* ]]
}

# probed RSC NODE RC: the CIB's last operation of RSC on NODE is a probe that returned RC.
probed() {
    timeout 20 cibadmin -Q -A "//node_state[@uname='$2']//lrm_rsc_op[@id='$1_last_0' and @operation='monitor' and @interval='0' and @rc-code='$3']" >/dev/null 2>&1
}

# log_has, step, create, only_on and set_role come from e2e-lib.sh.
ns_has_addr() { ip -n "${NS[$1]}" -o -4 addr show dev "$VIP_IF" | grep -qwF "$2"; }
file_says() { [[ -f $1 ]] && grep -qx "$2" "$1"; }

# ---- set-up and tear-down ------------------------------------------------------------------

# all_stopped and remove_resources come from e2e-lib.sh.

teardown() {
    local n ok=0
    [[ -n $TORN_DOWN ]] && return 0
    TORN_DOWN=1
    remove_resources || ok=1
    for n in "${ADDED[@]}"; do
        "$CLUSTER" remove-remote "$n" || ok=1
        [[ $("$CLUSTER" remote-state "$n") == "offline (absent, in_ccm=none)" ]] ||
            { pcmkr_log "node $n still known to the cluster"; ok=1; }
    done
    ADDED=()
    for n in "${NODES[@]}"; do
        pcmkr_daemon_stop "${PID[$n]:-}"
        PID[$n]=''
        [[ -n ${NS[$n]:-} ]] && "$NETNS" down "${NS[$n]}"
    done
    if [[ -n $STARTED_CLUSTER ]]; then
        "$CLUSTER" stop || ok=1
        STARTED_CLUSTER=''
    fi
    rm -f "$LSB_SCRIPT" "$LSB_STATE" /run/Dummy-d1.state /run/Dummy-t1.state \
        /run/Dummy-t1.state.serialized /run/pcmkr-nodedummy-d2-*.state
    rm -rf "$OCF_DIR"
    # Nothing of ours may remain.
    for n in "${NODES[@]}"; do
        [[ -n ${NS[$n]:-} ]] && ip netns list | grep -qw "${NS[$n]}" &&
            { pcmkr_log "namespace ${NS[$n]} still there"; ok=1; }
    done
    [[ -e $LSB_SCRIPT || -e $OCF_DIR ]] && { pcmkr_log "test agents still installed"; ok=1; }
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

cluster_up "state in $STATE"
for n in "${NODES[@]}"; do
    [[ $("$CLUSTER" remote-state "$n") == "offline (absent, in_ccm=none)" ]] ||
        pcmkr_die "node $n already exists in the cluster"
done
for r in "${RESOURCES[@]}"; do
    [[ -z $(timeout 20 cibadmin -Q -A "//primitive[@id='$r']" 2>/dev/null) ]] ||
        pcmkr_die "resource $r already exists in the cluster"
done

pcmkr_log "== 1. namespaces, daemons, both nodes online"
pcmkr_ensure_key
for n in "${NODES[@]}"; do
    x=$("$NETNS" free-subnet)
    NS[$n]=pcmkr-$n-$$
    ADDR[$n]=10.213.$x.2
    "$NETNS" up "${NS[$n]}" "10.213.$x.1/${ADDR[$n]}"
    pcmkr_daemon_start "${NS[$n]}" "$STATE/$n-daemon.log" "$@"
    PID[$n]=$PCMKR_DAEMON_PID
    pcmkr_log "$n: daemon pid ${PID[$n]} at ${ADDR[$n]} in ${NS[$n]}"
    pcmkr_daemon_wait_listen "${NS[$n]}" "${PID[$n]}" 10 || pcmkr_die "daemon on $n did not come up"
done
t0=$(pcmkr_now_ms)
for n in "${NODES[@]}"; do "$CLUSTER" add-remote "$n" "${ADDR[$n]}" && ADDED+=("$n"); done
for n in "${NODES[@]}"; do
    s=$("$CLUSTER" wait-remote "$n" online "$STEP_TIMEOUT") || pcmkr_die "$n not online: $s"
done
timing join $(( $(pcmkr_now_ms) - t0 ))

pcmkr_log "== 2. Dummy d1 on rn1: monitor failure and recovery"
rm -f /run/Dummy-d1.state
create d1 '<primitive id="d1" class="ocf" provider="pacemaker" type="Dummy">
  <operations><op id="d1-mon" name="monitor" interval="5s"/></operations></primitive>' \
    "$(only_on d1 rn1)"
d1_monitored() { rsc_on d1 rn1 && op_ok d1 rn1 5000 && [[ -f /run/Dummy-d1.state ]]; }
step d1_start d1_monitored
rm -f /run/Dummy-d1.state
d1_recovered() { failure d1 rn1 exitstatus "not running" && d1_monitored; }
step d1_recover d1_recovered
snapshot d1-recovered
grep -E "d1.* monitor on rn1 .*'not running'" "$STATE/crm_mon-d1-recovered.txt" >&2 ||
    pcmkr_die "crm_mon --include=failures does not show d1's 'not running'"
timeout 20 crm_resource -C -r d1 >/dev/null
d1_clean() { no_failures d1 && d1_monitored; }
step d1_cleanup d1_clean

pcmkr_log "== 3. LSB script $LSB_NAME on rn2: start, stop"
install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-lsb" "$LSB_SCRIPT"
rm -f "$LSB_STATE"
create l1 "<primitive id=\"l1\" class=\"lsb\" type=\"$LSB_NAME\">
  <operations><op id=\"l1-mon\" name=\"monitor\" interval=\"5s\"/></operations></primitive>" \
    "$(only_on l1 rn2)"
l1_started() { rsc_on l1 rn2 && op_ok l1 rn2 5000 && file_says "$LSB_STATE" "${NS[rn2]}"; }
step lsb_start l1_started
set_role l1 Stopped
l1_stopped() { rsc_stopped l1 && [[ ! -e $LSB_STATE ]]; }
step lsb_stop l1_stopped

pcmkr_log "== 4. IPaddr2 on rn1"
ip -n "${NS[rn1]}" link add "$VIP_IF" type veth peer name "$VIP_PEER"
ip -n "${NS[rn1]}" link set "$VIP_IF" up
ip -n "${NS[rn1]}" link set "$VIP_PEER" up
VIP=10.213.$("$NETNS" free-subnet).10
pcmkr_log "ip1: $VIP/24 on $VIP_IF in ${NS[rn1]}"
create ip1 "<primitive id=\"ip1\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\">
  <instance_attributes id=\"ip1-ia\">
    <nvpair id=\"ip1-ip\" name=\"ip\" value=\"$VIP\"/>
    <nvpair id=\"ip1-mask\" name=\"cidr_netmask\" value=\"24\"/>
    <nvpair id=\"ip1-nic\" name=\"nic\" value=\"$VIP_IF\"/>
  </instance_attributes>
  <operations><op id=\"ip1-mon\" name=\"monitor\" interval=\"10s\"/></operations></primitive>" \
    "$(only_on ip1 rn1)"
ip1_started() { rsc_on ip1 rn1 && ns_has_addr rn1 "$VIP/24"; }
step ip_start ip1_started
ip -n "${NS[rn1]}" -o -4 addr show dev "$VIP_IF" | sed 's/^/  /' >&2
set_role ip1 Stopped
ip1_stopped() { rsc_stopped ip1 && ! ns_has_addr rn1 "$VIP/24"; }
step ip_stop ip1_stopped

pcmkr_log "== 5. live migration of d2 from rn1 to rn2"
mkdir -p "$OCF_DIR"
install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-nodedummy" "$OCF_DIR/NodeDummy"
d2_state() { echo "/run/pcmkr-nodedummy-d2-${NS[$1]}.state"; }
rm -f "$(d2_state rn1)" "$(d2_state rn2)"
create d2 "<primitive id=\"d2\" class=\"ocf\" provider=\"$OCF_PROVIDER\" type=\"NodeDummy\">
  <meta_attributes id=\"d2-meta\"><nvpair id=\"d2-am\" name=\"allow-migrate\" value=\"true\"/></meta_attributes>
  <operations><op id=\"d2-mon\" name=\"monitor\" interval=\"5s\"/></operations></primitive>" \
    '<rsc_location id="loc-d2" rsc="d2" resource-discovery="never"><rule id="loc-d2-r" score="-INFINITY"><expression id="loc-d2-e" attribute="#kind" operation="ne" value="remote"/></rule></rsc_location>
     <rsc_location id="loc-d2-pref" rsc="d2" node="rn1" score="100"/>'
d2_on() { rsc_on d2 "$1" && op_ok d2 "$1" 5000 && [[ -f $(d2_state "$1") ]]; }
step d2_start d2_on rn1
timeout 20 crm_resource --move -r d2 -N rn2 >/dev/null 2>&1
d2_migrated() {
    d2_on rn2 && [[ ! -e $(d2_state rn1) ]] &&
        log_has 'Result of migrate_to operation for d2 on rn1: ok' &&
        log_has 'Result of migrate_from operation for d2 on rn2: ok'
}
step d2_migrate d2_migrated
tail -c +$((LOG_OFFSET + 1)) "$CLUSTER_LOG" |
    grep -E 'pacemaker-controld.*(Initiating [a-z_]+ operation d2_|Result of [a-z_]+ operation for d2 )' |
    sed -E 's/^.*(Initiating|Result of)/  \1/; s/ \|.*//' >&2 || true

pcmkr_log "== 6. start timeout of t1 on rn2"
rm -f /run/Dummy-t1.state /run/Dummy-t1.state.serialized
create t1 '<primitive id="t1" class="ocf" provider="pacemaker" type="Dummy">
  <instance_attributes id="t1-ia"><nvpair id="t1-sleep" name="op_sleep" value="5"/></instance_attributes>
  <meta_attributes id="t1-meta"><nvpair id="t1-mt" name="migration-threshold" value="1"/></meta_attributes>
  <operations><op id="t1-start" name="start" interval="0" timeout="2s"/></operations></primitive>' \
    "$(only_on t1 rn2)"
t1_timed_out() { failure t1 rn2 status "Timed Out" && rsc_stopped t1; }
step t1_timeout t1_timed_out
snapshot t1-timed-out
grep -E "t1 .*start on rn2" "$STATE/crm_mon-t1-timed-out.txt" >&2 ||
    pcmkr_die "crm_mon --include=failures does not show t1's start failure"
set_role t1 Stopped
timeout 20 crm_resource -C -r t1 >/dev/null
t1_clean() { no_failures t1 && rsc_stopped t1 && probed t1 rn2 7; }
step t1_cleanup t1_clean

for n in "${NODES[@]}"; do
    pcmkr_pid_alive "${PID[$n]}" || pcmkr_die "the daemon of $n (pid ${PID[$n]}) is gone"
done

pcmkr_log "== 7. tear-down"
snapshot before-teardown
t0=$(pcmkr_now_ms)
teardown || pcmkr_die "tear-down incomplete"
timing teardown $(( $(pcmkr_now_ms) - t0 ))
