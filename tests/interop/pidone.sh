#!/bin/bash
# Usage: pidone.sh DAEMON_CMD...
# Container init mode without a container runtime and without a cluster: DAEMON_CMD runs as
# PID 1 of new PID and mount namespaces (as-pid1.sh), in a network namespace of its own,
# with a private /etc/pacemaker (the key, and pcmk-init.env when a step needs it).
#  1. reap: a double-forked orphan inside is reaped within 1 s of its exit (how long its
#     zombie lived is printed). First a control: with `sleep` as PID 1 the zombie is still
#     there after 1.3 s, so the check does see zombies.
#  2. agents: 40 operations of ocf:pcmkrtest:pcmkr-orphans through liblrmd, each leaving two
#     orphans that exit around the agent's own exit: every result is the agent's own exit
#     code, and afterwards no zombie is left in the namespace.
#  3. env file: /etc/pacemaker/pcmk-init.env sets the port (used) and a log file (not used:
#     the environment already names one).
#  4. SIGTERM with no cluster: exit status 0 within 2 s.
#  5. (ours) PCMK_remote_pid1=full without being PID 1: an agent's orphans are re-parented to
#     the daemon (a child subreaper) and reaped.
# Prints "PASS: <step>" and "TIMING <name> <ms>"; with PCMKR_DAEMON_KIND=original nothing is
# asserted where the original differs on purpose, and "FINDING: ..." lines say what it did.
# Env: PCMKR_DAEMON_KIND (ours), PCMKR_STATE_DIR, PCMKR_DRIVER, PCMKR_KEY.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -ge 1 ]] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for c in unshare nsenter ip ss jq; do command -v "$c" >/dev/null || pcmkr_die "$c is missing"; done

kind=${PCMKR_DAEMON_KIND:-ours}
state=$(pcmkr_state_dir pidone)
ns=pcmkr-p1-$$
as_pid1=$PCMKR_INTEROP_DIR/as-pid1.sh
agent_dir=/usr/lib/ocf/resource.d/pcmkrtest
rsc=pcmkr-o1
PCMKR_DAEMON_PID='' control='' p1='' pid1_rc=0

cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n $control ]] && { kill -KILL "$control" 2>/dev/null; wait "$control" 2>/dev/null; }
    if [[ -n $PCMKR_DAEMON_PID && -n $p1 ]]; then
        stop_pid1
    else
        pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
    fi
    "$PCMKR_INTEROP_DIR/netns.sh" down "$ns"
    rm -f "$agent_dir/pcmkr-orphans" "/run/pcmkr-orphans-$rsc.state"
    rmdir "$agent_dir" 2>/dev/null || true
    if (( rc == 0 )); then echo "PASS (logs: $state)"; else echo "FAIL (logs: $state)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timing() { echo "TIMING $1 $2"; pcmkr_log "$1: $2 ms"; }
finding() { echo "FINDING: $*"; pcmkr_log "finding: $*"; }

# The first child of PID (one level down).
child_of() {
    local c
    c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
    c=${c%% *}
    [[ -n $c ]] && printf '%s\n' "$c"
}
# The host pid of the namespace's PID 1 under the as-pid1.sh wrapper WRAPPER (wrapper →
# unshare → PID 1); waits up to 5 s for it.
pid1_of() {
    local u p i
    for ((i = 0; i < 250; i++)); do
        if u=$(child_of "$1") && p=$(child_of "$u"); then
            printf '%s\n' "$p"
            return 0
        fi
        sleep 0.02
    done
    return 1
}
proc_state() { # PID: R, S, Z, ... or "gone"
    local line
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || { echo gone; return 0; }
    line=${line##*) }
    echo "${line%% *}"
}
# zombies_under PID: how many of PID's children are zombies.
zombies_under() {
    local n=0 c
    # shellcheck disable=SC2013 # one line of pids
    for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
        [[ $(proc_state "$c") == Z ]] && n=$((n + 1))
    done
    echo "$n"
}

# make_orphan PID1 MS: inside PID1's namespaces, a subshell starts `sleep MS` and exits at
# once, so the sleep is re-parented to PID 1. Prints the orphan's host pid.
make_orphan() {
    local p1=$1 ms=$2 before o i
    before=" $(cat "/proc/$p1/task/$p1/children" 2>/dev/null) "
    nsenter --target "$p1" --pid --mount -- /bin/sh -c \
        "(sleep $((ms / 1000)).$(printf '%03d' $((ms % 1000))) </dev/null >/dev/null 2>&1 &); exit 0"
    for ((i = 0; i < 100; i++)); do
        # shellcheck disable=SC2013 # one line of pids
        for o in $(cat "/proc/$p1/task/$p1/children" 2>/dev/null); do
            [[ $before == *" $o "* ]] || { printf '%s\n' "$o"; return 0; }
        done
        sleep 0.01
    done
    return 1
}

# watch_orphan PID DEADLINE_MS: follows PID until it is gone or the deadline (epoch ms)
# passes. Prints "gone ZOMBIE_MS" (0 when its zombie was never seen) or "zombie ZOMBIE_MS".
watch_orphan() {
    local pid=$1 deadline=$2 s z0=''
    while :; do
        s=$(proc_state "$pid")
        if [[ $s == gone ]]; then
            echo "gone $(( z0 ? $(pcmkr_now_ms) - z0 : 0 ))"
            return 0
        fi
        [[ $s == Z && -z $z0 ]] && z0=$(pcmkr_now_ms)
        if (( $(pcmkr_now_ms) > deadline )); then
            echo "zombie $(( z0 ? $(pcmkr_now_ms) - z0 : 0 ))"
            return 0
        fi
        sleep 0.005
    done
}

etc_plain=$state/etc-plain
mkdir -p "$etc_plain"
pcmkr_ensure_key
install -m 600 "$PCMKR_KEY" "$etc_plain/authkey"
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
addr=10.213.$x.2
"$PCMKR_INTEROP_DIR/netns.sh" up "$ns" "10.213.$x.1/$addr"

start_pid1() { # ETC_DIR LOGNAME: starts DAEMON_CMD as PID 1; sets PCMKR_DAEMON_PID and p1
    PCMKR_PID1_ETC_PACEMAKER=$1 pcmkr_daemon_start "$ns" "$state/$2.log" "$as_pid1" "${daemon[@]}"
    p1=$(pid1_of "$PCMKR_DAEMON_PID") || pcmkr_die "no PID 1 under as-pid1.sh ($state/$2.log)"
    pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up ($state/$2.log)"
    pcmkr_log "$2: PID 1 of its namespace is host pid $p1"
}
# Stops the daemon as a runtime would, by signalling PID 1 itself: SIGTERM, or SIGINT for
# the original, whose container init swallows SIGTERM (protocol.md 2.6); SIGKILL after 10 s.
stop_pid1() {
    local sig=TERM
    [[ $kind == original ]] && sig=INT
    [[ -n $p1 ]] && kill -"$sig" "$p1" 2>/dev/null
    end_pid1 100
}
# end_pid1 TENTHS: waits that long for PID 1 to end, then SIGKILL (which ends the namespace);
# reaps the wrapper and leaves its exit status in pid1_rc.
end_pid1() {
    local i
    for ((i = 0; i < $1; i++)); do
        pcmkr_pid_alive "$p1" || break
        sleep 0.1
    done
    if pcmkr_pid_alive "$p1"; then
        pcmkr_log "WARNING: PID 1 (host pid $p1) still runs after $(($1 / 10)) s; SIGKILL"
        kill -KILL "$p1" 2>/dev/null || true
    fi
    pid1_rc=0
    wait "$PCMKR_DAEMON_PID" 2>/dev/null || pid1_rc=$?
    PCMKR_DAEMON_PID='' p1=''
}
daemon=("$@")

pcmkr_log "== 1. control: sleep as PID 1 does not reap"
"$as_pid1" sleep 60 >/dev/null 2>&1 &
control=$!
cp1=$(pid1_of "$control") || pcmkr_die "control: no PID 1"
o=$(make_orphan "$cp1" 100) || pcmkr_die "control: no orphan appeared under PID 1"
read -r how ms < <(watch_orphan "$o" $(( $(pcmkr_now_ms) + 1400 )))
[[ $how == zombie ]] || pcmkr_die "control: the orphan of a non-reaping PID 1 did not stay a zombie ($how)"
pcmkr_log "control: the orphan was still a zombie after ${ms} ms"
kill -KILL "$cp1"; wait "$control" 2>/dev/null || true; control=''

pcmkr_log "== 1. reap: a double-forked orphan under the daemon as PID 1"
start_pid1 "$etc_plain" reap
worst=0
for i in 1 2 3; do
    t0=$(pcmkr_now_ms)
    o=$(make_orphan "$p1" 300) || pcmkr_die "no orphan appeared under PID 1"
    read -r how ms < <(watch_orphan "$o" $(( t0 + 300 + 1000 )))
    if [[ $how != gone ]]; then
        if [[ $kind == original ]]; then
            finding "original as PID 1: orphan $o still a zombie 1 s after its exit"
        else
            pcmkr_die "orphan $o not reaped within 1 s of its exit (zombie for ${ms} ms)"
        fi
    fi
    (( ms > worst )) && worst=$ms
done
timing orphan_zombie_lifetime_max "$worst"
[[ $kind == original ]] || echo "PASS: a double-forked orphan is reaped within 1 s (3 of 3, zombie at most ${worst} ms)"

pcmkr_log "== 2. agents next to orphans: every result is the agent's own"
mkdir -p "$agent_dir"
install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-orphans" "$agent_dir/pcmkr-orphans"
rm -f "/run/pcmkr-orphans-$rsc.state"
driver=$(pcmkr_driver "$state")
rcs=(0 1 7 3 0 2 1 3 7 0)
orphan_ms=(0 5 20 0 40 1 10 0 3 15)
agent_ms=(0 10 0 5 0 20 0 0 30 2)
cmds=(connect "register:$rsc:ocf:pcmkrtest:pcmkr-orphans" events:1:5000)
expect=()
for ((i = 0; i < 40; i++)); do
    k=$((i % 10)) r=${rcs[$((i % 10))]}
    cmds+=("exec:$rsc:monitor:0:10000:0:rc=$r,orphans=2,orphan_ms=${orphan_ms[$k]},agent_ms=${agent_ms[$(( (i / 10 + k) % 10 ))]}"
           "wait:$rsc:monitor:10000")
    expect+=("$r 0")
done
cmds+=("unregister:$rsc" events:1:5000 disconnect)
t0=$(pcmkr_now_ms)
PCMK_authkey_location=$PCMKR_KEY "$driver" --server "$addr" --port "$PCMKR_PORT" --timeout 120 \
    "${cmds[@]}" >"$state/agents.jsonl" 2>"$state/driver.err" ||
    pcmkr_die "driver failed: $(tail -n 3 "$state/driver.err")"
timing forty_operations_with_orphans $(( $(pcmkr_now_ms) - t0 ))
mapfile -t got < <(jq -r 'select(.kind=="event" and .type=="exec_complete" and .op_type=="monitor")
    | "\(.rc) \(.op_status)"' "$state/agents.jsonl")
[[ ${#got[@]} -eq 40 ]] || pcmkr_die "expected 40 results, got ${#got[@]} ($state/agents.jsonl)"
for ((i = 0; i < 40; i++)); do
    [[ ${got[$i]} == "${expect[$i]}" ]] ||
        pcmkr_die "operation $((i + 1)): rc/status '${got[$i]}', the agent exited '${expect[$i]}'"
done
sleep 1
z=$(zombies_under "$p1")
if (( z > 0 )); then
    if [[ $kind == original ]]; then
        finding "original as PID 1: $z zombies left 1 s after 40 operations"
    else
        pcmkr_die "$z zombies left under PID 1 one second after the operations"
    fi
fi
echo "PASS: 40 agent results intact next to 80 orphans, no zombie left"
stop_pid1

pcmkr_log "== 3. /etc/pacemaker/pcmk-init.env"
etc_env=$state/etc-env
mkdir -p "$etc_env"
install -m 600 "$PCMKR_KEY" "$etc_env/authkey"
env_port=$((PCMKR_PORT + 78))
cat >"$etc_env/pcmk-init.env" <<EOF
# host-specific settings for the container, as the original's container init reads them
PCMK_remote_port=$env_port   # the port to listen on
PCMK_logfile="$state/from-env-file.log"
EOF
saved_port=$PCMKR_PORT
PCMKR_PORT=$env_port
start_pid1 "$etc_env" envfile
PCMKR_PORT=$saved_port
[[ ! -e $state/from-env-file.log ]] ||
    pcmkr_die "pcmk-init.env overrode PCMK_logfile from the environment"
[[ -s $state/envfile.pcmk.log ]] || pcmkr_die "the environment's log file was not written"
echo "PASS: pcmk-init.env sets the port ($env_port) and never overrides the environment"

pcmkr_log "== 4. SIGTERM to PID 1 with no cluster connected"
t0=$(pcmkr_now_ms)
kill -TERM "$p1"   # as a runtime's stop does
ended=''
for ((i = 0; i < 500; i++)); do
    pcmkr_pid_alive "$p1" || { ended=1; break; }
    sleep 0.01
done
if [[ -n $ended ]]; then
    end_pid1 1
    rc=$pid1_rc
    timing exit_after_sigterm $(( $(pcmkr_now_ms) - t0 ))
    (( rc == 0 )) || pcmkr_die "exit status $rc after SIGTERM, expected 0"
    echo "PASS: SIGTERM as PID 1: exit status 0"
elif [[ $kind == original ]]; then
    finding "original as PID 1: SIGTERM swallowed, still running after 5 s"
    t0=$(pcmkr_now_ms)
    kill -INT "$p1"
    end_pid1 100
    rc=$pid1_rc
    finding "original as PID 1: SIGINT ended it with status $rc after $(( $(pcmkr_now_ms) - t0 )) ms"
else
    pcmkr_die "still running 5 s after SIGTERM"
fi

[[ $kind == original ]] && exit 0
pcmkr_log "== 5. PCMK_remote_pid1=full, not PID 1: orphans of agents come to the daemon"
PCMK_remote_pid1=full pcmkr_daemon_start "$ns" "$state/subreaper.log" "${daemon[@]}"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up ($state/subreaper.log)"
d=$PCMKR_DAEMON_PID
PCMK_authkey_location=$PCMKR_KEY "$driver" --server "$addr" --port "$PCMKR_PORT" --timeout 60 \
    connect "register:$rsc:ocf:pcmkrtest:pcmkr-orphans" events:1:5000 \
    "exec:$rsc:monitor:0:10000:0:rc=0,orphans=2,orphan_ms=800" "wait:$rsc:monitor:10000" \
    "unregister:$rsc" events:1:5000 disconnect >"$state/subreaper.jsonl" 2>"$state/driver.err" ||
    pcmkr_die "driver failed: $(tail -n 3 "$state/driver.err")"
adopted=0
# shellcheck disable=SC2013 # one line of pids
for c in $(cat "/proc/$d/task/$d/children" 2>/dev/null); do
    [[ $(cat "/proc/$c/comm" 2>/dev/null) == sleep ]] && adopted=$((adopted + 1))
done
(( adopted == 2 )) || pcmkr_die "$adopted of the agent's 2 orphans are the daemon's children"
sleep 1.5
z=$(zombies_under "$d")
(( z == 0 )) || pcmkr_die "$z zombies under the daemon after its adopted orphans exited"
grep -q 'container init mode (PCMK_remote_pid1=full)' "$state/subreaper.log" ||
    pcmkr_die "no container init mode line in subreaper.log"
echo "PASS: PCMK_remote_pid1=full: the agent's 2 orphans were adopted by the daemon and reaped"
pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
PCMKR_DAEMON_PID=''
