#!/bin/bash
# Usage: e2e-remote-online.sh DAEMON_CMD...
# End-to-end: one-node cluster + DAEMON_CMD as remote node "rn1" in its own namespace.
# Asserts: online within 60 s of creating the resource; after SIGKILL of the daemon the
# cluster sees the node offline within 30 s; after a restart it is online again within
# 60 s. Cleans up everything it created (daemon, resource, netns, cluster if it started it).
# Prints "TIMING <step> <ms>" and a final PASS/FAIL on stdout; progress on stderr.
# Env: PCMKR_STATE_DIR (logs), PCMKR_NODE (rn1), PCMKR_ONLINE_TIMEOUT (60),
# PCMKR_NOTICE_TIMEOUT (30), PCMKR_RECONNECT_TIMEOUT (60), PCMKR_RESTART_DELAY (0 s
# between the kill being noticed and the restart), PCMKR_KEY, PCMKR_PORT.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scenario.sh
source "$(dirname "$0")/scenario.sh"
[[ $# -ge 1 ]] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

trap scn_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scn_setup e2e "$@"

pcmkr_log "== SIGKILL the daemon (pid $PCMKR_DAEMON_PID)"
kill -KILL "$PCMKR_DAEMON_PID"
wait "$PCMKR_DAEMON_PID" 2>/dev/null || true
PCMKR_DAEMON_PID=
scn_wait_state offline "${PCMKR_NOTICE_TIMEOUT:-30}" notice_kill
timeout 20 crm_mon -1 --include=failures >"$SCN_STATE/crm_mon-after-kill.txt" 2>&1 || true
grep -E "Remote|$SCN_NODE" "$SCN_STATE/crm_mon-after-kill.txt" | sed 's/^/crm_mon after kill: /' || true

if [[ ${PCMKR_RESTART_DELAY:-0} != 0 ]]; then
    pcmkr_log "waiting ${PCMKR_RESTART_DELAY} s before the restart"
    sleep "$PCMKR_RESTART_DELAY"
fi
pcmkr_log "== restart the daemon"
pcmkr_daemon_start "$SCN_NS" "$SCN_STATE/daemon.log" "$@"
pcmkr_log "daemon pid $PCMKR_DAEMON_PID"
t0=$(pcmkr_now_ms)
pcmkr_daemon_wait_listen "$SCN_NS" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up again"
scn_wait_state online "${PCMKR_RECONNECT_TIMEOUT:-60}" rejoin_after_listen
scn_timing rejoin_after_restart $(( $(pcmkr_now_ms) - t0 ))
timeout 20 crm_mon -1 --include=failures >"$SCN_STATE/crm_mon-after-rejoin.txt" 2>&1 || true
pcmkr_log "== clean up"
