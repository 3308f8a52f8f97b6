#!/bin/bash
# Usage: flood-signon.sh DAEMON_CMD...
# No cluster. Starts DAEMON_CMD in a fresh network namespace, floods it from inside the
# namespace with flood.py (500 half-open TLS connections from 127.0.0.2..127.0.0.20 to
# 127.0.0.1, held for PCMKR_FLOOD_SECONDS), and meanwhile signs on 10 times with Pacemaker's
# own client library (lrmd-driver "connect disconnect", from the host side of the veth, as a
# cluster node would). Prints "RESULT <name> <value>" lines: sign-ons that succeeded, their
# median and slowest time, the daemon's log lines a minute and its largest VmRSS during the
# flood, and the flood's own report. Exits 0 when every sign-on succeeded within 2 s, or
# always with PCMKR_FLOOD_ASSERT=0 (for measuring the original daemon).
# Env: PCMKR_STATE_DIR, PCMKR_DRIVER, PCMKR_KEY, PCMKR_PORT, PCMKR_FLOOD_SECONDS (60),
# PCMKR_FLOOD_ASSERT (1).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -ge 1 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

seconds=${PCMKR_FLOOD_SECONDS:-60}
signons=10
limit_ms=2000
state=$(pcmkr_state_dir flood-signon)
ns=pcmkr-fs-$$
PCMKR_DAEMON_PID='' flood_pid=''
cleanup() {
    local rc=$?
    trap - EXIT
    [[ -n $flood_pid ]] && pcmkr_stop_pid "$flood_pid" 5 flood
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
# The daemon's own log file (the scripts set PCMK_logfile), where both daemons write.
logfile=$state/daemon.pcmk.log
touch "$logfile"

ip netns exec "$ns" python3 "$PCMKR_INTEROP_DIR/flood.py" 127.0.0.1 "$PCMKR_PORT" \
    --connections 500 --seconds "$seconds" --rate 200 --sources 127.0.0.2-127.0.0.20 \
    --report "$state/flood.json" >"$state/flood.out" 2>"$state/flood.err" </dev/null &
flood_pid=$!
sleep 3
lines0=$(wc -l <"$logfile")
t0=$(pcmkr_now_ms)
ok=0 rss_max=0 times=()
for ((i = 1; i <= signons; i++)); do
    out=$(PCMK_authkey_location=$PCMKR_KEY "$driver" --server "10.213.$x.2" --port "$PCMKR_PORT" \
        --timeout 20 connect disconnect 2>>"$state/driver.err" | tee -a "$state/driver.jsonl" |
        jq -r 'select(.kind=="call" and .cmd=="connect") | "\(.ok) \(.elapsed_ms)"' || true)
    read -r good ms <<<"${out:-false 99999}"
    pcmkr_log "sign-on $i: ok=$good ${ms} ms"
    if [[ $good == true ]]; then
        times+=("$ms")
        (( ms <= limit_ms )) && ok=$((ok + 1))
    fi
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PCMKR_DAEMON_PID/status" 2>/dev/null || echo 0)
    (( rss > rss_max )) && rss_max=$rss
    sleep $(( (seconds - 10) / signons ))
done
elapsed=$(( $(pcmkr_now_ms) - t0 ))
lines=$(( $(wc -l <"$logfile") - lines0 ))
pcmkr_pid_alive "$PCMKR_DAEMON_PID" || pcmkr_log "the daemon died during the flood"
wait "$flood_pid" 2>/dev/null || true
flood_pid=''

sorted=$(printf '%s\n' "${times[@]:-}" | grep . | sort -n || true)
n=$(grep -c . <<<"$sorted" || true)
echo "RESULT signon_within_${limit_ms}ms $ok/$signons"
echo "RESULT signon_succeeded $n/$signons"
echo "RESULT signon_ms_median $( (( n > 0 )) && sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted" || echo none)"
echo "RESULT signon_ms_max $( (( n > 0 )) && tail -1 <<<"$sorted" || echo none)"
echo "RESULT log_lines_per_minute $(( lines * 60000 / (elapsed > 0 ? elapsed : 1) ))"
echo "RESULT rss_kb_max $rss_max"
echo "RESULT flood $(jq -c 'del(.samples)' "$state/flood.json" 2>/dev/null || echo '{}')"
if [[ ${PCMKR_FLOOD_ASSERT:-1} == 1 ]]; then
    (( ok == signons )) || pcmkr_die "only $ok of $signons sign-ons within $limit_ms ms under the flood"
fi
pcmkr_log "PASS"
