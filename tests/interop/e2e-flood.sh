#!/bin/bash
# Usage: e2e-flood.sh DAEMON_CMD...
# End-to-end under a keyless flood: one-node cluster + DAEMON_CMD as remote node "rn1" in its
# own namespace (scenario.sh). Once the node is online, flood.py holds 500 half-open TLS
# connections to it from inside the namespace (127.0.0.2..127.0.0.20 to 127.0.0.1) for the
# rest of the run. Asserts: the node stays RemoteOnline for PCMKR_FLOOD_HOLD s (sampled every
# 2 s); after a SIGKILL of the daemon during the flood the cluster notices, and after a restart
# (still during the flood) the node is online again within two reconnect intervals (2 x 5 s,
# cluster.sh add-remote) of the daemon listening. Prints "TIMING <step> <ms>" and
# "RESULT <name> <value>" (log lines a minute and VmRSS of the daemon under the flood) and a
# final PASS/FAIL. With PCMKR_FLOOD_ASSERT=0 the flood's effects are measured, not asserted
# (for the original daemon).
# Env: PCMKR_STATE_DIR, PCMKR_NODE (rn1), PCMKR_KEY, PCMKR_PORT, PCMKR_FLOOD_HOLD (60),
# PCMKR_FLOOD_ASSERT (1).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scenario.sh
source "$(dirname "$0")/scenario.sh"
[[ $# -ge 1 ]] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

hold=${PCMKR_FLOOD_HOLD:-60}
assert=${PCMKR_FLOOD_ASSERT:-1}
reconnect_ms=5000
flood_pid=''
cleanup() {
    local rc=$?
    set +e
    [[ -n $flood_pid ]] && pcmkr_stop_pid "$flood_pid" 5 flood
    # scn_cleanup reads the exit status from $?.
    (exit "$rc")
    scn_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A flood finding fails the run, or with PCMKR_FLOOD_ASSERT=0 is only reported.
finding() {
    if [[ $assert == 1 ]]; then pcmkr_die "$*"; else pcmkr_log "FINDING (not asserted): $*"; echo "FINDING $*"; fi
}

scn_setup e2e-flood "$@"
logfile=$SCN_STATE/daemon.pcmk.log
touch "$logfile"

pcmkr_log "== keyless flood inside $SCN_NS for $((hold + 60)) s"
ip netns exec "$SCN_NS" python3 "$PCMKR_INTEROP_DIR/flood.py" 127.0.0.1 "$PCMKR_PORT" \
    --connections 500 --seconds $((hold + 60)) --rate 200 --sources 127.0.0.2-127.0.0.20 \
    --report "$SCN_STATE/flood.json" >"$SCN_STATE/flood.out" 2>"$SCN_STATE/flood.err" </dev/null &
flood_pid=$!
sleep 3
lines0=$(wc -l <"$logfile")
t0=$(pcmkr_now_ms)
rss_max=0 offline_samples=0 samples=0
# One sample every 2 s, bounded by the hold time.
while (( $(pcmkr_now_ms) - t0 < hold * 1000 )); do
    s=$("$SCN_CLUSTER" remote-state "$SCN_NODE" || true)
    samples=$((samples + 1))
    [[ $s == online ]] || { offline_samples=$((offline_samples + 1)); pcmkr_log "node state: $s"; }
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PCMKR_DAEMON_PID/status" 2>/dev/null || echo 0)
    (( rss > rss_max )) && rss_max=$rss
    sleep 2
done
elapsed=$(( $(pcmkr_now_ms) - t0 ))
lines=$(( $(wc -l <"$logfile") - lines0 ))
echo "RESULT online_samples_under_flood $((samples - offline_samples))/$samples"
echo "RESULT log_lines_per_minute $(( lines * 60000 / elapsed ))"
echo "RESULT rss_kb_max $rss_max"
(( offline_samples == 0 )) || finding "node not online in $offline_samples of $samples samples under the flood"

pcmkr_log "== SIGKILL the daemon (pid $PCMKR_DAEMON_PID) during the flood"
kill -KILL "$PCMKR_DAEMON_PID"
wait "$PCMKR_DAEMON_PID" 2>/dev/null || true
PCMKR_DAEMON_PID=
scn_wait_state offline 30 notice_kill
pcmkr_log "== restart the daemon, still under the flood"
pcmkr_daemon_start "$SCN_NS" "$SCN_STATE/daemon.log" "$@"
t1=$(pcmkr_now_ms)
pcmkr_daemon_wait_listen "$SCN_NS" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up again"
t1=$(pcmkr_now_ms)
if s=$("$SCN_CLUSTER" wait-remote "$SCN_NODE" online 60); then
    rejoin=$(( $(pcmkr_now_ms) - t1 ))
    scn_timing rejoin_after_listen_under_flood "$rejoin"
    (( rejoin <= 2 * reconnect_ms )) ||
        finding "online again after $rejoin ms, over two reconnect intervals ($((2 * reconnect_ms)) ms)"
else
    finding "not online again within 60 s of the restart under the flood (last: $s)"
fi
pcmkr_stop_pid "$flood_pid" 5 flood
wait "$flood_pid" 2>/dev/null || true
flood_pid=''
echo "RESULT flood $(jq -c 'del(.samples)' "$SCN_STATE/flood.json" 2>/dev/null || echo '{}')"
pcmkr_log "== clean up"
