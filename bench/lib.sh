# shellcheck shell=bash
# Helpers shared by bench/run and bench/profile; source it, do not run it.
# Provides: bench_log, bench_die, bench_need_packages, bench_builds, bench_key,
# bench_agent_install, bench_agent_remove, bench_start_daemon, bench_stop_pid, BENCH_PIDS,
# BENCH_HERE, BENCH_REPO, BENCH_INTEROP, BENCH_AGENT_DIR, BENCH_BIN.
# Every wait is bounded; only pids these helpers started are ever signalled.

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_HERE/.." && pwd)
BENCH_INTEROP=$BENCH_REPO/tests/interop
BENCH_AGENT_DIR=/usr/lib/ocf/resource.d/pcmkrbench # the original only looks under here
BENCH_BIN=$BENCH_REPO/target/bench/bin
BENCH_T0=$(date +%s)
BENCH_PIDS=() # daemons started and not yet stopped, for the EXIT trap

bench_log() { printf '[%4ds] %s\n' $(($(date +%s) - BENCH_T0)) "$*" >&2; }
bench_die() { bench_log "FAIL: $*"; exit 1; }

# bench_need_packages PKG...: installs the Debian packages that are missing.
bench_need_packages() {
    local need=() p
    for p in "$@"; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
    done
    ((${#need[@]} == 0)) && return 0
    bench_log "installing ${need[*]}"
    timeout 600 apt-get install -y -q "${need[@]}" >&2 || bench_die "apt-get install ${need[*]} failed"
}

# bench_builds: sets BENCH_OURS (unless set: the static x86_64-generic build, or a glibc
# cargo build --release when that cannot be built) and
# BENCH_ORIG (unpacked from Debian's pacemaker-remote), and builds the C programs.
bench_builds() {
    if [[ -z ${BENCH_OURS:-} ]]; then
        # What an appliance ships: the static musl binary of the reference board profile
        # (cross/build installs the Rust target when it is missing).
        bench_log "cross/build x86_64-generic (static, musl)"
        BENCH_OURS=$(cd "$BENCH_REPO" && timeout 900 cross/build x86_64-generic | awk 'END {print $3}') ||
            BENCH_OURS=''
        if [[ -n $BENCH_OURS ]]; then
            [[ $BENCH_OURS == /* ]] || BENCH_OURS=$BENCH_REPO/$BENCH_OURS
        else
            bench_log "WARNING: no static build; measuring a glibc cargo build --release instead"
            (cd "$BENCH_REPO" && timeout 900 cargo build --release -q >&2) ||
                bench_die "cargo build --release failed"
            BENCH_OURS=${CARGO_TARGET_DIR:-$BENCH_REPO/target}/release/pcmk-remoted
        fi
    fi
    [[ -x $BENCH_OURS ]] || bench_die "our daemon is not at $BENCH_OURS"
    BENCH_OURS=$(readlink -f "$BENCH_OURS")
    # shellcheck disable=SC2034 # for the callers
    BENCH_ORIG=$("$BENCH_INTEROP/original-daemon.sh") || bench_die "could not unpack the original"
    "$BENCH_HERE/build.sh" "$BENCH_BIN" >&2 || bench_die "could not build bench/*.c (bench/build.sh)"
}

# bench_key FILE: a fresh 4096-byte key, as Pacemaker's docs make one.
bench_key() {
    dd if=/dev/urandom of="$1" bs=4096 count=1 status=none
    chmod 600 "$1"
}

# The no-op agent, ocf:pcmkrbench:noop, for the duration of the run.
bench_agent_install() {
    [[ -e $BENCH_AGENT_DIR ]] &&
        bench_die "$BENCH_AGENT_DIR exists already: a bench that did not clean up? remove it"
    mkdir -p "$BENCH_AGENT_DIR"
    install -m 755 "$BENCH_HERE/agent/noop" "$BENCH_AGENT_DIR/noop"
}
bench_agent_remove() {
    rm -f "$BENCH_AGENT_DIR/noop"
    rmdir "$BENCH_AGENT_DIR" 2>/dev/null || true
}

# bench_start_daemon NS KEY LOGBASE TIMEOUT_S CMD...: starts CMD in NS (key and log file
# set, output to LOGBASE.log) and waits until it listens on 3121; sets DPID.
bench_start_daemon() {
    local ns=$1 key=$2 logbase=$3 timeout=$4 i
    shift 4
    ip netns exec "$ns" env PCMK_authkey_location="$key" PCMK_logfile="$logbase.pcmk.log" \
        "$@" >>"$logbase.log" 2>&1 </dev/null &
    DPID=$! # ip netns exec and env exec, so this is the daemon's pid
    BENCH_PIDS+=("$DPID")
    for ((i = 0; i < timeout * 10; i++)); do
        [[ -n $(ip netns exec "$ns" ss -Hltn 'sport = :3121') ]] && return 0
        kill -0 "$DPID" 2>/dev/null || { bench_log "$1 exited before listening"; return 1; }
        sleep 0.1
    done
    bench_log "$1 not listening after $timeout s"
    return 1
}

_bench_gone() { # PID: not running, or a zombie waiting for us
    ! kill -0 "$1" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

# bench_stop_pid PID [TIMEOUT_S]: SIGTERM, bounded wait, SIGKILL as a logged last resort.
bench_stop_pid() {
    local pid=$1 timeout=${2:-15} i p keep=()
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < timeout * 10; i++)); do
            _bench_gone "$pid" && break
            sleep 0.1
        done
        if ! _bench_gone "$pid"; then
            bench_log "WARNING: pid $pid ignored SIGTERM for $timeout s, SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    for p in "${BENCH_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

# bench_stop_all: every daemon still listed (the EXIT trap's job); TERM all, then wait.
bench_stop_all() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BENCH_PIDS[@]}"; do bench_stop_pid "$pid" 5; done
}
