#!/bin/bash
# Usage: e2e-bundle.sh DAEMON
# A real Pacemaker bundle on the root-namespace one-node cluster, running an image made
# here from DAEMON (our static binary, `cross/build x86_64-generic`) and a static busybox
# (bundle-image.sh), imported with `podman import` (no registry). The bundle:
#   <podman network="host" options="--ulimit ..."/>   this host's root lacks CAP_SYS_RESOURCE,
#       so podman's default rlimits cannot be set (tests/roots/README.md, "Containers")
#   <network ip-range-start=A host-interface=VETH host-netmask=32 control-port=3131/>
#       Pacemaker puts A on VETH (IPaddr2; VETH is one end of a veth pair made here) and
#       connects to A:3131; the daemon in the container listens on A only
#   <storage> maps pcmk-init.env (PCMK_remote_address=A) to /etc/pacemaker/pcmk-init.env;
#       Pacemaker itself maps /etc/pacemaker/authkey and a log directory on /var/log
#   <primitive> ocf:pacemaker:Dummy, monitor 5 s
# Steps: online (the replica's node pcmkr-b1-0 joins; the daemon is the container's PID 1 in
# container init mode), dummy (runs in the container and is monitored), kill_container
# (SIGKILL to the container's PID 1: recovered), stop (the bundle stops: the container's
# PID 1 exits on podman's SIGTERM).
# Podman runs with runc (crun refuses this host's hybrid cgroups), cgroupfs, and storage
# under a directory of this run: /etc/containers/containers.conf and storage.conf are
# written for the run (the podman agent runs under pacemaker-execd, whose environment we
# cannot set) and removed at its end; the run refuses to start when either exists. Every
# container, image, storage, cgroup, log directory and interface made here is removed.
# Prints "TIMING <step> <ms>", "RESULT <name> <value>" and PASS/FAIL.
# Env: PCMKR_STATE_DIR, PCMKR_STEP_TIMEOUT (120 s per wait), PCMKR_KEY.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=e2e-lib.sh
source "$(dirname "$0")/e2e-lib.sh"
[[ $# -eq 1 && -x $1 ]] || { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DAEMON=$1

STEP_TIMEOUT=${PCMKR_STEP_TIMEOUT:-120}
CLUSTER="$PCMKR_INTEROP_DIR/cluster.sh"
CLUSTER_LOG=/var/log/pacemaker/pacemaker.log
BUNDLE=pcmkr-b1 DUMMY=pcmkr-bd1 PORT=3131
REPLICA=$BUNDLE-0
CONTAINER=$BUNDLE-podman-0
IMAGE=localhost/pcmkr-bundle:$$
CONF_DIR=/etc/containers
BUNDLE_LOGS=/var/log/pacemaker/bundles
STATE=$(pcmkr_state_dir e2e-bundle)
export PCMKR_CLUSTER_DIR=${PCMKR_CLUSTER_DIR:-$STATE/cluster}
# Podman's storage (overlay needs a file system that is not itself an overlay or tmpfs).
PODMAN_DIR=$(mktemp -d /var/tmp/pcmkr-bundle.XXXXXX)
NS=pcmkr-bundle-$$
VETH=pcmkrb$$
MARK="# pcmkr e2e-bundle.sh $$"
STARTED_CLUSTER='' LOG_OFFSET=0 TORN_DOWN='' CREATED=() WROTE_CONF='' ADDED_BUNDLE=''
had_varlib=0
[[ -e /var/lib/containers ]] && had_varlib=1

timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }
result() { echo "RESULT $1 $2"; pcmkr_log "$1: $2"; }

for c in podman runc busybox file strip ss; do
    command -v "$c" >/dev/null || pcmkr_die "$c is missing (apt-get install podman runc busybox-static file binutils)"
done
[[ -x /usr/lib/ocf/resource.d/heartbeat/podman ]] || pcmkr_die "ocf:heartbeat:podman missing (resource-agents)"

# ---- queries ----------------------------------------------------------------------------

# replica_state: "online" (GuestOnline in crm_mon and in_ccm=true) or "offline (...)".
replica_state() {
    local out line w label=absent conn=none ns
    out=$(timeout 20 crm_mon -1 2>/dev/null) || { echo "offline (unknown)"; return 0; }
    while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*\*[[:space:]]([A-Za-z]+):[[:space:]]\[(.*)\]$ ]] || continue
        for w in ${BASH_REMATCH[2]}; do
            [[ ${w%@*} == "$REPLICA" ]] && label=${BASH_REMATCH[1]}
        done
    done <<<"$out"
    ns=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$REPLICA']" 2>/dev/null) || true
    [[ $ns =~ in_ccm=\"([a-z]+)\" ]] && conn=${BASH_REMATCH[1]}
    if [[ $label == GuestOnline && $conn == true ]]; then echo online; else echo "offline ($label, in_ccm=$conn)"; fi
}
replica_online() { [[ $(replica_state) == online ]]; }
replica_offline() { [[ $(replica_state) != online ]]; }
container_pid() { podman inspect --format '{{.State.Pid}}' "$CONTAINER" 2>/dev/null | grep -E '^[1-9][0-9]*$'; }
# The Dummy is active and not failed in the bundle, and its state file (Dummy keeps it in
# /run) is in the container, not on the host.
dummy_in_container() {
    local x
    x=$(mon_xml) || return 1
    [[ $(xq "string(//bundle[@id='$BUNDLE']//resource[@id='$DUMMY']/@active)" <<<"$x") == true &&
       $(xq "string(//bundle[@id='$BUNDLE']//resource[@id='$DUMMY']/@failed)" <<<"$x") == false ]] || return 1
    ! ls /run/Dummy-"$DUMMY"*.state >/dev/null 2>&1 &&
        timeout 20 podman exec "$CONTAINER" /bin/sh -c "ls /run/Dummy-$DUMMY*.state" >/dev/null 2>&1
}
monitor_ok() {
    local op
    op=$(timeout 20 cibadmin -Q -A "//node_state[@uname='$REPLICA']//lrm_rsc_op[contains(@id,'${DUMMY}') and @operation='monitor' and @interval='5000']" 2>/dev/null) || return 1
    [[ $op == *'rc-code="0"'* && $op == *'op-status="0"'* ]]
}
bundle_stopped() {
    local x
    x=$(mon_xml) || return 1
    [[ $(xq "count(//bundle[@id='$BUNDLE']//resource[@active='true'])" <<<"$x") == 0 ]] &&
        ! podman container exists "$CONTAINER" 2>/dev/null
}
fail_step() {
    snapshot "fail-$1"
    mon_xml >"$STATE/crm_mon-fail-$1.xml" 2>&1 || true
    sed 's/^/  /' "$STATE/crm_mon-fail-$1.txt" >&2
    podman ps -a >"$STATE/podman-ps-fail-$1.txt" 2>&1 || true
    pcmkr_die "$1: not reached within $STEP_TIMEOUT s (replica: $(replica_state))"
}

# ---- set-up and tear-down -----------------------------------------------------------------

remove_bundle() {
    local ok=0
    [[ -n $ADDED_BUNDLE ]] || return 0
    set_role "$BUNDLE" Stopped || ok=1
    pcmkr_wait_until "$STEP_TIMEOUT" bundle_stopped ||
        { pcmkr_log "WARNING: bundle not stopped after $STEP_TIMEOUT s"; ok=1; }
    timeout 20 cibadmin --delete-all --force -A "//resources/bundle[@id='$BUNDLE'] | //constraints/rsc_location[@rsc='$BUNDLE']" || ok=1
    timeout 20 crm_resource -C -r "$BUNDLE" >/dev/null 2>&1 || true
    timeout 20 crm_node --force --remove "$REPLICA" >/dev/null 2>&1 || true
    [[ $(replica_state) == "offline (absent, in_ccm=none)" ]] ||
        { pcmkr_log "node $REPLICA still known: $(replica_state)"; ok=1; }
    ADDED_BUNDLE=''
    return $ok
}

teardown() {
    local ok=0 c
    [[ -n $TORN_DOWN ]] && return 0
    TORN_DOWN=1
    remove_bundle || ok=1
    if [[ -n $WROTE_CONF ]]; then
        podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
        podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
    fi
    umount "$PODMAN_DIR/storage/overlay" 2>/dev/null || true
    rm -rf --one-file-system "$PODMAN_DIR" || ok=1
    for c in "$CONF_DIR/containers.conf" "$CONF_DIR/storage.conf"; do
        if [[ -f $c ]] && head -n1 "$c" | grep -qF "$MARK:"; then rm -f "$c"; fi
        [[ -e $c ]] && { pcmkr_log "$c is still there"; ok=1; }
    done
    (( had_varlib )) || rm -rf /var/lib/containers
    # The replica's log directory (the podman agent made it; pacemakerd makes $BUNDLE_LOGS).
    rm -rf "${BUNDLE_LOGS:?}/$REPLICA"
    for c in /sys/fs/cgroup/*/libpod_parent "$(findmnt -rno TARGET -t cgroup2 | head -n1)/libpod_parent"; do
        [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
        [[ -d $c ]] && pcmkr_log "NOTE: cgroup $c not removed (another podman user?)"
    done
    ip link del "${VETH}h" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    if [[ -n $STARTED_CLUSTER ]]; then
        "$CLUSTER" stop || ok=1
        STARTED_CLUSTER=''
    fi
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

cluster_up "bundle of $DAEMON, state in $STATE"
[[ $(replica_state) == "offline (absent, in_ccm=none)" ]] || pcmkr_die "node $REPLICA already exists in the cluster"
for c in "$CONF_DIR/containers.conf" "$CONF_DIR/storage.conf"; do
    [[ ! -e $c ]] || pcmkr_die "$c exists; this test writes its own for the run and will not replace one"
done
pcmkr_ensure_key

pcmkr_log "== podman configuration for the run ($CONF_DIR/containers.conf, storage.conf)"
mkdir -p "$CONF_DIR" "$PODMAN_DIR/tmp"
WROTE_CONF=1
cat >"$CONF_DIR/containers.conf" <<EOF
$MARK: runc, cgroupfs and a private tmp for one test run; removed at its end.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$PODMAN_DIR/tmp"
EOF
cat >"$CONF_DIR/storage.conf" <<EOF
$MARK: podman's storage for one test run; removed at its end.
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_DIR/run"
EOF

pcmkr_log "== image"
t0=$(pcmkr_now_ms)
img=$("$PCMKR_INTEROP_DIR/bundle-image.sh" "$PODMAN_DIR/image" "$DAEMON")
read -r _ tar tar_bytes rootfs_bytes daemon_bytes busybox_bytes <<<"$img"
timeout 120 podman import "$tar" "$IMAGE" >/dev/null 2>"$STATE/import.err" ||
    pcmkr_die "podman import failed: $(cat "$STATE/import.err")"
image_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
timing image_built_and_imported $(( $(pcmkr_now_ms) - t0 ))
result image_bytes "$image_bytes (tar $tar_bytes, files $rootfs_bytes, daemon $daemon_bytes stripped, busybox $busybox_bytes)"

pcmkr_log "== network: a veth end in this namespace for the replica's address"
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
ADDR=10.213.$x.2
ip netns add "$NS"
ip link add "${VETH}h" type veth peer name "${VETH}n"
ip link set "${VETH}n" netns "$NS"
ip -n "$NS" link set "${VETH}n" up
ip link set "${VETH}h" up
printf '%s\n' "# per-host settings for the container (what pcmk-init.env is for)" \
    "PCMK_remote_address=$ADDR" >"$STATE/pcmk-init.env"

bundle_xml="<bundle id=\"$BUNDLE\">
  <podman image=\"$IMAGE\" replicas=\"1\" network=\"host\"
          options=\"--ulimit nofile=1024:1024 --ulimit nproc=4096:4096\"/>
  <network ip-range-start=\"$ADDR\" host-interface=\"${VETH}h\" host-netmask=\"32\" control-port=\"$PORT\"/>
  <storage>
    <storage-mapping id=\"$BUNDLE-env\" source-dir=\"$STATE/pcmk-init.env\" target-dir=\"/etc/pacemaker/pcmk-init.env\" options=\"ro\"/>
  </storage>
  <primitive id=\"$DUMMY\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">
    <operations><op id=\"$DUMMY-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/></operations>
  </primitive>
</bundle>"

pcmkr_log "== online: the bundle starts and its replica's node joins"
T0=$(pcmkr_now_ms)
ADDED_BUNDLE=1
timeout 20 cibadmin -C -o resources -X "$bundle_xml" || pcmkr_die "could not create the bundle"
pcmkr_wait_until "$STEP_TIMEOUT" replica_online || fail_step online
timing replica_online $(( $(pcmkr_now_ms) - T0 ))
p=$(container_pid) || pcmkr_die "no container pid"
cmd=$(podman exec "$CONTAINER" /bin/cat /proc/1/cmdline | tr '\0' ' ')
[[ $cmd == /usr/sbin/pacemaker-remoted* ]] || pcmkr_die "PID 1 in the container is '$cmd'"
podman logs "$CONTAINER" >"$STATE/container-1.log" 2>&1 || true
grep -q 'container init mode: running as PID 1' "$STATE/container-1.log" ||
    pcmkr_die "the daemon did not report container init mode (container-1.log)"
result pid1 "$cmd(host pid $p)"
# pcmk-init.env applied (the address), and the log default in the bundle's /var/log mount.
listen=$(ss -Hltn "sport = :$PORT" | awk '{print $4}' | sort -u | tr '\n' ' ')
[[ $listen == "$ADDR:$PORT " ]] || pcmkr_die "listening on '$listen', expected $ADDR:$PORT only (pcmk-init.env)"
[[ -s $BUNDLE_LOGS/$REPLICA/pcmk-init.log ]] ||
    pcmkr_die "no $BUNDLE_LOGS/$REPLICA/pcmk-init.log (the container's /var/log/pcmk-init.log)"
run_opts=$(timeout 20 crm_resource -r "$CONTAINER" -g run_opts 2>/dev/null || true)
[[ -z $run_opts ]] || result run_opts "$run_opts"

pcmkr_log "== dummy: a primitive inside the bundle starts and is monitored"
pcmkr_wait_until "$STEP_TIMEOUT" dummy_in_container || fail_step dummy
timing dummy_running $(( $(pcmkr_now_ms) - T0 ))
pcmkr_wait_until "$STEP_TIMEOUT" monitor_ok || fail_step dummy_monitor
timing dummy_monitored $(( $(pcmkr_now_ms) - T0 ))
snapshot online

pcmkr_log "== kill_container: SIGKILL to the container's PID 1 (host pid $p)"
T0=$(pcmkr_now_ms)
kill -KILL "$p"
pcmkr_wait_until "$STEP_TIMEOUT" replica_offline || fail_step kill_noticed
timing kill_container_noticed $(( $(pcmkr_now_ms) - T0 ))
pcmkr_wait_until "$STEP_TIMEOUT" replica_online || fail_step kill_online
timing kill_container_online_again $(( $(pcmkr_now_ms) - T0 ))
pcmkr_wait_until "$STEP_TIMEOUT" dummy_in_container || fail_step kill_dummy
timing kill_container_dummy_again $(( $(pcmkr_now_ms) - T0 ))
p2=$(container_pid) || pcmkr_die "no container pid after recovery"
[[ $p2 != "$p" ]] || pcmkr_die "the container was not replaced"
snapshot after-kill

pcmkr_log "== stop: the bundle stops (podman stop: SIGTERM to the daemon as PID 1)"
podman logs "$CONTAINER" >"$STATE/container-2.log" 2>&1 || true
T0=$(pcmkr_now_ms)
set_role "$BUNDLE" Stopped
pcmkr_wait_until "$STEP_TIMEOUT" bundle_stopped || fail_step stop
timing bundle_stopped $(( $(pcmkr_now_ms) - T0 ))
last=$(grep -E 'exiting with status|received' "$BUNDLE_LOGS/$REPLICA/pcmk-init.log" 2>/dev/null | tail -n2 | tr '\n' ' ' || true)
result daemon_last_lines "$last"
pcmkr_log "== clean up"
