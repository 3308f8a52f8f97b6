#!/bin/bash
# Usage: systemd.sh DAEMON
# systemd: resources on our daemon and on Debian's original, in a booted Debian 12 whose real
# systemd 252 is PID 1 (tests/roots/boot bookworm-systemd). DAEMON (our binary, linked for
# this host's Debian 12, so the root runs it) is copied into the running root. Each daemon in
# turn runs inside the root under that systemd (the original as pacemaker_remote.service,
# ours as a transient unit), one at a time, with the same key; Pacemaker's client library
# (lrmd-driver) drives it from the host over the veth through the same sequence:
#   register pcmkr-test (a Type=simple unit made here), probe, meta-data, start, a 2 s
#   recurring monitor, the unit's main process killed (SIGKILL) and the failure notified,
#   cancel, stop; pcmkr-slow (its start takes 60 s): a start with a 5 s timeout that times
#   out, a probe while it is still activating (pending), stop; a unit that does not exist:
#   probe, start, stop; unregister all.
# The two sessions must match field by field except times (exec_time, queue_time, and the
# start delay that a start or stop reports from its last follow-up monitor, which depends on
# elapsed time; PCMKR_TIME_SLACK_MS, default 1500, bounds their difference). What
# the test unit saw of the runtime drop-in when it started must match too, and no drop-in
# may be left after the stops. The boot is stopped at the end, whatever happens.
# Env: PCMKR_STATE_DIR, PCMKR_DRIVER. Prints "PASS: ..." lines; exit 0 only if all passed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -eq 1 ]] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
daemon=$(realpath "$1")
roots=$PCMKR_REPO_ROOT/tests/roots
name=bookworm-systemd
slack=${PCMKR_TIME_SLACK_MS:-1500}
B() { "$roots/boot" "$name" "$@"; }

state=$(pcmkr_state_dir systemd)
booted=0
cleanup() {
    local rc=$?
    trap - EXIT
    if ((booted)); then
        B exec journalctl --no-pager -o short-monotonic >"$state/journal.txt" 2>&1 || true
        B stop >>"$state/boot.log" 2>&1 || pcmkr_log "WARNING: boot stop failed (see $state/boot.log)"
    fi
    pcmkr_log "logs: $state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

driver=$(pcmkr_driver "$state")
"$roots/build" "$name" >"$state/build.log" 2>&1 ||
    { tail -5 "$state/build.log" >&2; pcmkr_die "tests/roots/build $name failed"; }
if B status >/dev/null 2>&1; then
    pcmkr_die "$name is already booted by someone else (tests/roots/boot $name stop ends it)"
fi
booted=1
B start >"$state/boot.log" 2>&1 || { cat "$state/boot.log" >&2; pcmkr_die "boot $name failed"; }
root=$(B root)
addr=$(B addr)
pcmkr_log "booted $name: root $root, address $addr"

# The same key for both daemons and the driver.
dd if=/dev/urandom of="$state/authkey" bs=4096 count=1 status=none
chmod 600 "$state/authkey"
install -m 640 "$state/authkey" "$root/etc/pacemaker/authkey"
B exec chgrp haclient /etc/pacemaker/authkey
install -m 755 "$daemon" "$root/usr/local/sbin/pcmk-remoted"

# The test units. pcmkr-test records, as it starts, what systemd made of the drop-in
# (written and reloaded by the daemon before StartUnit), then lives until its marker file
# goes, and then its main process dies of SIGKILL. pcmkr-slow takes 60 s to start.
cat >"$root/etc/systemd/system/pcmkr-test.service" <<'EOF'
[Unit]
Description=pcmkr test unit <&> "quoted"

[Service]
Type=simple
ExecStartPre=/bin/sh -c 'systemctl show -p Description -p Restart -p Before -p DropInPaths pcmkr-test.service >/run/pcmkr-test.seen; cat /run/systemd/system/pcmkr-test.service.d/50-pacemaker.conf >>/run/pcmkr-test.seen 2>&1; touch /run/pcmkr-test.alive'
ExecStart=/bin/sh -c 'while [ -e /run/pcmkr-test.alive ]; do sleep 0.2; done; kill -KILL $$$$'
EOF
cat >"$root/etc/systemd/system/pcmkr-slow.service" <<'EOF'
[Unit]
Description=pcmkr slow unit

[Service]
Type=simple
ExecStartPre=/bin/sleep 60
ExecStart=/bin/sleep infinity
EOF
B exec systemctl daemon-reload

seq=(
    connect poke events:1:10000
    register:t:systemd::pcmkr-test events:1:10000
    exec:t:monitor:0:20000:0 wait:t:monitor:30000
    exec:t:meta-data:0:5000:0 wait:t:meta-data:15000
    exec:t:start:0:20000:0 wait:t:start:30000
    exec:t:monitor:2000:20000:0 wait:t:monitor:30000
    "unlink:$root/run/pcmkr-test.alive" wait:t:monitor:30000
    cancel:t:monitor:2000 wait:t:monitor:10000
    exec:t:stop:0:20000:0 wait:t:stop:30000
    register:s:systemd::pcmkr-slow events:1:10000
    exec:s:start:0:5000:0 wait:s:start:20000
    exec:s:monitor:0:20000:0 wait:s:monitor:30000
    exec:s:stop:0:20000:0 wait:s:stop:30000
    register:n:systemd::pcmkr-nonexistent events:1:10000
    exec:n:monitor:0:20000:0 wait:n:monitor:30000
    exec:n:start:0:20000:0 wait:n:start:30000
    exec:n:stop:0:20000:0 wait:n:stop:30000
    unregister:t events:1:10000 unregister:s events:1:10000 unregister:n events:1:10000
    disconnect
)

# session WHO START_CMD STOP_CMD: one daemon, the whole sequence; results in $state/WHO.*.
session() {
    local who=$1 start=$2 stop=$3 rc=0
    B exec systemctl reset-failed pcmkr-test.service pcmkr-slow.service >/dev/null 2>&1 || true
    B exec rm -f /run/pcmkr-test.seen /run/pcmkr-test.alive
    # shellcheck disable=SC2086 # the commands are word lists
    B exec $start >"$state/$who.start.log" 2>&1 ||
        { cat "$state/$who.start.log" >&2; pcmkr_die "$who: could not start the daemon"; }
    B wait-listen "$PCMKR_PORT" 15 >/dev/null || pcmkr_die "$who: daemon does not listen on $PCMKR_PORT"
    PCMK_authkey_location=$state/authkey timeout 300 "$driver" --server "$addr" \
        --port "$PCMKR_PORT" --timeout 240 "${seq[@]}" \
        >"$state/$who.jsonl" 2>"$state/$who.driver.err" || rc=$?
    cp "$root/run/pcmkr-test.seen" "$state/$who.seen" 2>/dev/null || echo "(nothing)" >"$state/$who.seen"
    B exec sh -c 'ls /run/systemd/system/*.d/50-pacemaker.conf 2>/dev/null || true' >"$state/$who.dropins"
    # shellcheck disable=SC2086
    B exec $stop >>"$state/$who.start.log" 2>&1 || pcmkr_log "WARNING: $who: stop failed"
    ((rc == 0)) || {
        cat "$state/$who.jsonl" "$state/$who.driver.err" >&2
        pcmkr_die "$who: lrmd-driver exited with $rc"
    }
    pcmkr_log "$who: sequence done ($(grep -c '"kind":"event"' "$state/$who.jsonl") events)"
}

session original "systemctl start pacemaker_remote.service" \
    "systemctl stop pacemaker_remote.service"
session ours "systemd-run --unit=pcmkr-ours --property=KillMode=process /usr/local/sbin/pcmk-remoted" \
    "systemctl stop pcmkr-ours.service"
B exec journalctl --no-pager -u pcmkr-ours.service >"$state/ours.daemon.log" 2>&1 || true
cp "$root/var/log/pacemaker/pacemaker.log" "$state/original.daemon.log" 2>/dev/null || true

fail=0
# 1. Results and notifications, field by field, times aside.
strip='def epoch: if . == 0 then 0 else "T" end;
  del(.elapsed_ms, .t_ms, .exec_time, .queue_time)
  | if .kind == "event" then .t_run |= epoch | .t_rcchange |= epoch
      | del(.start_delay) else . end'
if diff <(jq -c "$strip" "$state/original.jsonl") <(jq -c "$strip" "$state/ours.jsonl") \
    >"$state/diff.txt"; then
    pcmkr_log "PASS: results and notifications equal field by field ($(wc -l <"$state/ours.jsonl") lines)"
else
    cat "$state/diff.txt" >&2
    pcmkr_log "FAIL: sessions differ (< original, > ours)"
    fail=1
fi
# Times, and the start delay a start or stop reports: within the slack of each other.
times='if .kind == "event" then [.exec_time, .queue_time, .start_delay] else [0, 0, 0] end'
bad=$(paste -d' ' <(jq -c "$times" "$state/original.jsonl") <(jq -c "$times" "$state/ours.jsonl") |
    awk -v s="$slack" '{ gsub(/[\[\]]/, ""); split($1, a, ","); split($2, b, ",");
        for (i = 1; i <= 3; i++) { d = a[i] - b[i]; if (d < 0) d = -d;
            if (d > s) { printf "line %d: %s vs %s\n", NR, $1, $2; break } } }')
if [[ -z $bad ]]; then
    pcmkr_log "PASS: exec_time, queue_time, start_delay within ${slack} ms"
else
    printf '%s\n' "$bad" >&2
    pcmkr_log "FAIL: times differ by more than ${slack} ms ([exec, queue, start_delay])"
    fail=1
fi
# 2. What each run looked like, for the log (and so that a match of two wrong runs shows).
jq -r 'select(.kind == "event" and .type == "exec_complete")
       | "  \(.rsc_id) \(.op_type) \(.interval_ms): rc=\(.rc) status=\(.op_status) reason=\(.exit_reason) timeout=\(.timeout) delay=\(.start_delay) exec=\(.exec_time)"' \
    "$state/ours.jsonl" >&2
want='["t","monitor",0,7,0,"inactive"]["t","meta-data",0,0,0,null]["t","start",0,0,0,null]["t","monitor",2000,0,0,null]["t","monitor",2000,7,0,"failed"]["t","monitor",2000,7,1,null]["t","stop",0,0,0,"failed"]["s","start",0,1,2,"Investigate reason for timeout, and adjust configured operation timeout if necessary"]["s","monitor",0,193,-1,null]["s","stop",0,0,0,"failed"]["n","monitor",0,7,0,"inactive"]["n","start",0,5,7,"systemd unit pcmkr-nonexistent not found"]["n","stop",0,0,0,"inactive"]'
got=$(jq -c 'select(.kind == "event" and .type == "exec_complete")
             | [.rsc_id, .op_type, .interval_ms, .rc, .op_status, .exit_reason]' \
    "$state/original.jsonl" | tr -d '\n')
if [[ $got == "$want" ]]; then
    pcmkr_log "PASS: the original's run is the one this test expects"
else
    pcmkr_log "NOTE: the original's run differs from what this test expected: $got"
fi
# 3. The drop-in: present and reloaded when the unit started, the same for both; gone after.
# (systemd lists Before= in no fixed order.)
seen() { awk -F= '$1 == "Before" { n = split($2, w, " "); asort(w); s = "";
    for (i = 1; i <= n; i++) s = s " " w[i]; print "Before=" substr(s, 2); next } { print }' "$1"; }
if diff <(seen "$state/original.seen") <(seen "$state/ours.seen") >"$state/seen.diff" &&
    grep -qx 'Description=Cluster Controlled pcmkr-test' "$state/ours.seen" &&
    grep -qx 'Restart=no' "$state/ours.seen"; then
    pcmkr_log "PASS: the drop-in was written and reloaded before the start, as the original's"
else
    cat "$state/seen.diff" "$state/ours.seen" >&2
    pcmkr_log "FAIL: what the unit saw of the drop-in differs"
    fail=1
fi
if [[ ! -s $state/ours.dropins && ! -s $state/original.dropins ]]; then
    pcmkr_log "PASS: no drop-in left after the stops"
else
    cat "$state/ours.dropins" "$state/original.dropins" >&2
    pcmkr_log "FAIL: drop-ins left behind"
    fail=1
fi
((fail == 0)) || exit 1
