#!/bin/bash
# Usage: extra-session.sh DAEMON_CMD...
# Fact finding, not an assertion: with DAEMON_CMD online as remote node rn1, opens extra
# connections to it and reports what the cluster does. Probes, one after the other:
#   driver  lrmd-driver connect, 2 s idle, disconnect (TLS + sign-on)
#   gnutls  gnutls-cli TLS-PSK handshake only, then EOF
#   ssh     ssh -p PORT (the guides' reachability check)
#   tcp     bare TCP connect and close
# For each: "PROBE <name> offline_after_ms=<n|never> online_again_ms=<n|never>" and the
# controller's log lines about the node; observation window $PCMKR_OBSERVE (20) s.
# Env as for e2e-remote-online.sh, plus PCMKR_DRIVER, PCMKR_PROBES ("driver gnutls ssh tcp").
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scenario.sh
source "$(dirname "$0")/scenario.sh"
[[ $# -ge 1 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

trap scn_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scn_setup extra "$@"
driver=$(pcmkr_driver "$SCN_STATE")
log=/var/log/pacemaker/pacemaker.log

run_probe() {
    local hex
    case $1 in
    driver) PCMK_authkey_location=$PCMKR_KEY timeout 30 "$driver" --server "$SCN_ADDR" \
                --port "$PCMKR_PORT" --timeout 20 connect drain:2000 disconnect ;;
    gnutls) hex=$(od -An -v -tx1 "$PCMKR_KEY" | tr -d ' \n')
            timeout 10 gnutls-cli --priority NORMAL:+DHE-PSK:+PSK --pskusername lrmd \
                --pskkey "$hex" -p "$PCMKR_PORT" "$SCN_ADDR" </dev/null ;;
    ssh) timeout 10 ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -p "$PCMKR_PORT" "$SCN_ADDR" true ;;
    tcp) timeout 5 bash -c "exec 3<>/dev/tcp/$SCN_ADDR/$PCMKR_PORT; exec 3>&-" ;;
    *) pcmkr_die "unknown probe $1" ;;
    esac
}

for probe in ${PCMKR_PROBES:-driver gnutls ssh tcp}; do
    "$SCN_CLUSTER" wait-remote "$SCN_NODE" online 60 >/dev/null || pcmkr_die "$SCN_NODE not online before probe $probe"
    sleep 2 # let the connection settle after a rejoin
    from=$(( $(wc -l <"$log") + 1 ))
    pcmkr_log "== probe $probe"
    t0=$(pcmkr_now_ms) off=never on=never
    # The probe runs while we watch; each probe is bounded by its own timeout.
    run_probe "$probe" >"$SCN_STATE/probe-$probe.out" 2>&1 &
    probe_pid=$!
    deadline=$(( t0 + ${PCMKR_OBSERVE:-20} * 1000 ))
    while (( $(pcmkr_now_ms) < deadline )); do
        s=$("$SCN_CLUSTER" remote-state "$SCN_NODE")
        if [[ $off == never && $s != online ]]; then off=$(( $(pcmkr_now_ms) - t0 ))
        elif [[ $off != never && $s == online ]]; then on=$(( $(pcmkr_now_ms) - t0 )); break
        fi
        sleep 0.5
    done
    wait "$probe_pid" || true
    echo "PROBE $probe offline_after_ms=$off online_again_ms=$on"
    tail -n +"$from" "$log" | grep -E 'pacemaker-controld.*(takeover|Lost connection|Announcing|Result of (start|monitor) operation for '"$SCN_NODE"')' |
        sed -e 's/^/  controller: /' | cut -c1-220 || true
done
