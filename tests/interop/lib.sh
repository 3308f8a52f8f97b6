# shellcheck shell=bash
# Common helpers for the interop scripts; source it, do not run it.
# Provides: pcmkr_log, pcmkr_die, pcmkr_now_ms, pcmkr_wait_until, pcmkr_pid_alive,
# pcmkr_stop_pid, pcmkr_state_dir, PCMKR_REPO_ROOT, PCMKR_INTEROP_DIR.

PCMKR_INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # for callers
PCMKR_REPO_ROOT=$(cd "$PCMKR_INTEROP_DIR/../.." && pwd)
export PCMKR_T0_MS=${PCMKR_T0_MS:-$(date +%s%3N)}

pcmkr_now_ms() { date +%s%3N; }

# Log to stderr with the time since the script started.
pcmkr_log() {
    local t=$(( $(pcmkr_now_ms) - PCMKR_T0_MS ))
    printf '[%4d.%03ds] %s\n' $((t / 1000)) $((t % 1000)) "$*" >&2
}

pcmkr_die() { pcmkr_log "FAIL: $*"; exit 1; }

# pcmkr_state_dir NAME: the caller's state dir ($PCMKR_STATE_DIR) or a fresh one under TMPDIR.
pcmkr_state_dir() {
    if [[ -n "${PCMKR_STATE_DIR:-}" ]]; then
        mkdir -p "$PCMKR_STATE_DIR" && printf '%s\n' "$PCMKR_STATE_DIR"
    else
        mktemp -d "${TMPDIR:-/tmp}/pcmkr-$1.XXXXXX"
    fi
}

# pcmkr_wait_until TIMEOUT_S CMD...: run CMD every 0.5 s until it succeeds; 1 on timeout.
pcmkr_wait_until() {
    local deadline=$(( $(pcmkr_now_ms) + $1 * 1000 ))
    shift
    while (( $(pcmkr_now_ms) < deadline )); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# True if PID exists and is not a zombie (orphans are reaped late by this host's init).
pcmkr_pid_alive() {
    [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null &&
        [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]
}

# pcmkr_stop_pid PID TIMEOUT_S [NAME]: SIGTERM, wait, SIGKILL as last resort (logged).
pcmkr_stop_pid() {
    local pid=$1 timeout=$2 name=${3:-process} i
    pcmkr_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        pcmkr_pid_alive "$pid" || return 0
        sleep 0.1
    done
    pcmkr_log "WARNING: $name (pid $pid) ignored SIGTERM for ${timeout}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    return 0
}

PCMKR_KEY=${PCMKR_KEY:-/etc/pacemaker/authkey}
PCMKR_PORT=${PCMKR_PORT:-3121}

# Creates the authentication key (4096 random bytes) if it is missing.
pcmkr_ensure_key() {
    [[ -s $PCMKR_KEY ]] && return 0
    mkdir -p "$(dirname "$PCMKR_KEY")"
    dd if=/dev/urandom of="$PCMKR_KEY" bs=4096 count=1 status=none
    chgrp haclient "$PCMKR_KEY" 2>/dev/null || true
    chmod 640 "$PCMKR_KEY"
    pcmkr_log "created $PCMKR_KEY"
}

# pcmkr_driver STATE_DIR: path of lrmd-driver ($PCMKR_DRIVER, or built into STATE_DIR/driver).
pcmkr_driver() {
    if [[ -n "${PCMKR_DRIVER:-}" ]]; then
        printf '%s\n' "$PCMKR_DRIVER"
    else
        "$PCMKR_INTEROP_DIR/build-driver.sh" "$1/driver"
    fi
}

# pcmkr_daemon_start NS LOGFILE CMD...: starts CMD inside NS with the key and log
# location set; sets PCMKR_DAEMON_PID. "ip netns exec" and "env" exec, so the pid is CMD's.
pcmkr_daemon_start() {
    local ns=$1 log=$2
    shift 2
    ip netns exec "$ns" env PCMK_authkey_location="$PCMKR_KEY" \
        PCMK_logfile="${log%.*}.pcmk.log" "$@" >>"$log" 2>&1 </dev/null &
    # shellcheck disable=SC2034 # read by the caller
    PCMKR_DAEMON_PID=$!
}

_pcmkr_listening() {
    pcmkr_pid_alive "$2" || return 2
    [[ -n $(ip netns exec "$1" ss -Hltn "sport = :$PCMKR_PORT") ]]
}

# pcmkr_daemon_wait_listen NS PID TIMEOUT_S: waits until something listens on the port.
pcmkr_daemon_wait_listen() {
    local deadline=$(( $(pcmkr_now_ms) + $3 * 1000 )) rc
    while (( $(pcmkr_now_ms) < deadline )); do
        rc=0; _pcmkr_listening "$1" "$2" || rc=$?
        (( rc == 0 )) && return 0
        (( rc == 2 )) && { pcmkr_log "daemon (pid $2) exited before listening"; return 1; }
        sleep 0.1
    done
    pcmkr_log "daemon (pid $2) not listening on $PCMKR_PORT after $3 s"
    return 1
}

# pcmkr_daemon_stop PID: SIGTERM, bounded wait, SIGKILL as last resort; reaps our child.
pcmkr_daemon_stop() {
    [[ -n "${1:-}" ]] || return 0
    pcmkr_stop_pid "$1" 15 daemon
    wait "$1" 2>/dev/null || true
}

# OCF test agent installation (ocf:pcmkrtest:pcmkr-agent).
PCMKR_AGENT_DIR=/usr/lib/ocf/resource.d/pcmkrtest
pcmkr_agent_install() {
    mkdir -p "$PCMKR_AGENT_DIR"
    install -m 755 "$PCMKR_INTEROP_DIR/agents/pcmkr-agent" "$PCMKR_AGENT_DIR/pcmkr-agent"
}
pcmkr_agent_remove() {
    rm -f "$PCMKR_AGENT_DIR/pcmkr-agent"
    rmdir "$PCMKR_AGENT_DIR" 2>/dev/null || true
}
