#!/bin/bash
# Usage: golden-sequence.sh DAEMON_CMD...
# No cluster. Starts DAEMON_CMD in a fresh namespace, installs the test agent
# ocf:pcmkrtest:pcmkr-agent, drives one fixed scripted session with lrmd-driver and
# prints its JSON lines on stdout (the daemon must be fresh: call ids are compared).
# Removes the agent, its state files, the daemon and the namespace afterwards.
# Compare two runs with: diff <(normalize-jsonl.sh A) <(normalize-jsonl.sh B)
# Env: PCMKR_STATE_DIR, PCMKR_DRIVER, PCMKR_KEY, PCMKR_PORT.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
[[ $# -ge 1 ]] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

d=pcmkr-d1 t=pcmkr-t1 dstate=/run/Dummy-pcmkr-d1.state
seq=(
    connect poke events:1:5000
    # ocf:pacemaker:Dummy: probe, start, 2 s monitor (changes only), failure, cancel, stop
    "register:$d:ocf:pacemaker:Dummy" events:1:5000 "info:$d" '!info:pcmkr-nosuch'
    "exec:$d:monitor:0:20000:0" "wait:$d:monitor:10000"
    "exec:$d:start:0:20000:0" "wait:$d:start:10000"
    "exec:$d:monitor:2000:20000:0" "wait:$d:monitor:10000" '!events:1:5000' "recurring:$d"
    "unlink:$dstate" "wait:$d:monitor:5000" '!events:1:4500'
    "cancel:$d:monitor:2000" "wait:$d:monitor:5000" "!cancel:$d:monitor:2000" recurring
    "exec:$d:stop:0:20000:0" "wait:$d:stop:10000"
    "unregister:$d" events:1:5000 "unregister:$d" events:1:5000
    # test agent: output, exit reasons, timeout, start delay, error, cancel while running, queueing
    "register:$t:ocf:pcmkrtest:pcmkr-agent" events:1:5000
    "exec:$t:start:0:20000:0:dump_env=1,stdout=to stdout,stderr=ocf-exit-reason:early reason,reason=final reason,secret=s3cr3t%2C%3A%25"
    "wait:$t:start:10000"
    "exec:$t:monitor:0:20000:0:stdout=only stdout" "wait:$t:monitor:10000"
    "exec:$t:monitor:0:1500:0:sleep_ms=10000" "wait:$t:monitor:10000"
    "exec:$t:monitor:0:20000:1000" "wait:$t:monitor:10000"
    "exec:$t:monitor:0:20000:0:rc=1,reason=broken" "wait:$t:monitor:10000"
    "exec:$t:monitor:0:20000:0:stderr=ocf-exit-reason:first%0Aocf-exit-reason:" "wait:$t:monitor:10000"
    "exec:$t:monitor:3000:20000:0:sleep_ms=2000" drain:500 "cancel:$t:monitor:3000" "wait:$t:monitor:5000"
    "exec:$t:start:0:20000:0:sleep_ms=1500" "exec:$t:monitor:0:20000:0" "wait:$t:monitor:10000"
    "exec:$t:stop:0:20000:0" "wait:$t:stop:10000" "unregister:$t" events:1:5000
    # unregister with a recurring op still active
    "register:$t:ocf:pcmkrtest:pcmkr-agent" events:1:5000
    "exec:$t:monitor:2000:20000:0" "wait:$t:monitor:10000" "unregister:$t" events:2:5000
    # agents that cannot run: unknown class, missing OCF agent
    register:pcmkr-u1:nosuchclass::whatever events:1:5000
    exec:pcmkr-u1:start:0:20000:0 wait:pcmkr-u1:start:10000 unregister:pcmkr-u1 events:1:5000
    register:pcmkr-m1:ocf:pacemaker:pcmkr-no-such-agent events:1:5000
    exec:pcmkr-m1:monitor:0:20000:0 wait:pcmkr-m1:monitor:10000 unregister:pcmkr-m1 events:1:5000
    # requests about unknown resources
    '!exec:pcmkr-nosuch:start:0:20000:0' '!cancel:pcmkr-nosuch:monitor:1000' '?recurring:pcmkr-nosuch'
    poke events:1:5000 disconnect
)

state=$(pcmkr_state_dir golden)
ns=pcmkr-gs-$$
PCMKR_DAEMON_PID=''
cleanup() {
    local rc=$?
    trap - EXIT
    pcmkr_daemon_stop "$PCMKR_DAEMON_PID"
    "$PCMKR_INTEROP_DIR/netns.sh" down "$ns"
    pcmkr_agent_remove
    rm -f "$dstate" /run/pcmkr-agent-$t.state
    pcmkr_log "logs: $state"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

driver=$(pcmkr_driver "$state")
pcmkr_ensure_key
pcmkr_agent_install
rm -f "$dstate" /run/pcmkr-agent-$t.state
x=$("$PCMKR_INTEROP_DIR/netns.sh" free-subnet)
"$PCMKR_INTEROP_DIR/netns.sh" up "$ns" "10.213.$x.1/10.213.$x.2"
pcmkr_daemon_start "$ns" "$state/daemon.log" "$@"
pcmkr_daemon_wait_listen "$ns" "$PCMKR_DAEMON_PID" 10 || pcmkr_die "daemon did not come up"

rc=0
PCMK_authkey_location=$PCMKR_KEY "$driver" --server "10.213.$x.2" --port "$PCMKR_PORT" \
    --timeout 180 "${seq[@]}" 2>"$state/driver.err" | tee "$state/golden.jsonl" || rc=$?
(( rc == 0 )) || { cat "$state/driver.err" >&2; pcmkr_die "driver exited with $rc"; }
pcmkr_log "PASS: scripted session complete ($(wc -l <"$state/golden.jsonl") lines)"
