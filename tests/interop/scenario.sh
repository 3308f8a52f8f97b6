# shellcheck shell=bash
# Cluster + one remote node in a namespace, shared by the cluster scenarios; source it
# after lib.sh. scn_setup DAEMON_CMD... brings everything up (node online); scn_cleanup
# (install it as the EXIT trap) removes what was created, in reverse order.
# Sets: SCN_STATE, SCN_NODE, SCN_NS, SCN_ADDR, SCN_CLUSTER; PCMKR_DAEMON_PID.

SCN_CLUSTER="$PCMKR_INTEROP_DIR/cluster.sh"
SCN_NODE=${PCMKR_NODE:-rn1}
SCN_NS=pcmkr-$SCN_NODE-$$
SCN_STARTED_CLUSTER='' SCN_ADDED='' SCN_NS_UP='' PCMKR_DAEMON_PID=''

scn_cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n $SCN_ADDED ]] && { "$SCN_CLUSTER" remove-remote "$SCN_NODE" || pcmkr_log "WARNING: removing $SCN_NODE failed"; }
    pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
    [[ -n $SCN_NS_UP ]] && "$PCMKR_INTEROP_DIR/netns.sh" down "$SCN_NS"
    [[ -n $SCN_STARTED_CLUSTER ]] && { "$SCN_CLUSTER" stop || pcmkr_log "WARNING: cluster stop failed"; }
    if (( rc == 0 )); then echo "PASS (logs: $SCN_STATE)"; else echo "FAIL (logs: $SCN_STATE)"; fi
    exit "$rc"
}

scn_timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }

# scn_wait_state online|offline SECS NAME: bounded wait, timed under NAME.
scn_wait_state() {
    local t0 s
    t0=$(pcmkr_now_ms)
    s=$("$SCN_CLUSTER" wait-remote "$SCN_NODE" "$1" "$2") ||
        pcmkr_die "$SCN_NODE not $1 within $2 s (last: $s)"
    scn_timing "$3" $(( $(pcmkr_now_ms) - t0 ))
}

scn_setup() {
    local t0 x
    SCN_STATE=$(pcmkr_state_dir "$1")
    shift
    export PCMKR_CLUSTER_DIR=${PCMKR_CLUSTER_DIR:-$SCN_STATE/cluster}
    # One cluster per machine: serialise with other users of these scripts.
    exec 9>/run/lock/pcmkr-interop.lock
    flock -w 900 9 || pcmkr_die "another interop run holds /run/lock/pcmkr-interop.lock"

    pcmkr_log "== cluster"
    t0=$(pcmkr_now_ms)
    if "$SCN_CLUSTER" running; then
        pcmkr_log "reusing the running cluster in $PCMKR_CLUSTER_DIR"
    else
        SCN_STARTED_CLUSTER=1
        "$SCN_CLUSTER" start
    fi
    scn_timing cluster_ready $(( $(pcmkr_now_ms) - t0 ))
    [[ $("$SCN_CLUSTER" remote-state "$SCN_NODE") == "offline (absent, in_ccm=none)" ]] ||
        pcmkr_die "node $SCN_NODE already exists in the cluster"

    pcmkr_log "== namespace and daemon"
    pcmkr_ensure_key
    x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
    SCN_ADDR=10.213.$x.2
    "$PCMKR_INTEROP_DIR/netns.sh" up "$SCN_NS" "10.213.$x.1/$SCN_ADDR" && SCN_NS_UP=1
    pcmkr_daemon_start "$SCN_NS" "$SCN_STATE/daemon.log" "$@"
    pcmkr_log "daemon pid $PCMKR_DAEMON_PID at $SCN_ADDR in $SCN_NS"
    pcmkr_daemon_wait_listen "$SCN_NS" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up"

    pcmkr_log "== create remote node $SCN_NODE"
    "$SCN_CLUSTER" add-remote "$SCN_NODE" "$SCN_ADDR" && SCN_ADDED=1
    scn_wait_state online "${PCMKR_ONLINE_TIMEOUT:-60}" join
}
