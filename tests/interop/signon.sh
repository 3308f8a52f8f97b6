#!/bin/bash
# Usage: signon.sh DAEMON_CMD...
# No cluster. Starts DAEMON_CMD in a fresh network namespace, runs lrmd-driver with
# "connect poke events:1 disconnect" against it, prints the driver's JSON lines on
# stdout, and exits 0 only if every step succeeded.
# Env: PCMKR_STATE_DIR (logs; default: new dir under $TMPDIR), PCMKR_DRIVER (prebuilt
# driver), PCMKR_KEY (default /etc/pacemaker/authkey), PCMKR_PORT (default 3121).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -ge 1 ]] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

state=$(pcmkr_state_dir signon)
ns=pcmkr-so-$$
PCMKR_DAEMON_PID=''
cleanup() {
    local rc=$?
    trap - EXIT
    pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
    "$PCMKR_INTEROP_DIR/netns.sh" down "$ns"
    pcmkr_log "logs: $state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

driver=$(pcmkr_driver "$state")
pcmkr_ensure_key
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
"$PCMKR_INTEROP_DIR/netns.sh" up "$ns" "10.213.$x.1/10.213.$x.2"
pcmkr_daemon_start "$ns" "$state/daemon.log" "$@"
pcmkr_log "daemon pid $PCMKR_DAEMON_PID in $ns (10.213.$x.2)"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up (see $state/daemon.log)"

rc=0
PCMK_authkey_location=$PCMKR_KEY "$driver" --server "10.213.$x.2" --port "$PCMKR_PORT" \
    --timeout 60 connect poke events:1:5000 disconnect 2>"$state/driver.err" |
    tee "$state/driver.jsonl" || rc=$?
(( rc == 0 )) || { cat "$state/driver.err" >&2; pcmkr_die "driver exited with $rc"; }
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 1 || pcmkr_die "daemon died during the session"
pcmkr_log "PASS: sign-on, poke and disconnect"
