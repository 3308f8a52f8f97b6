#!/bin/bash
# Usage: as-pid1.sh CMD...
# Runs CMD as PID 1 of new PID and mount namespaces (with a fresh /proc), as a container
# runtime starts a container's command; forwards SIGTERM, SIGINT and SIGHUP to it (a runtime
# signals the container's PID 1) and exits with its status. It can stand in for a daemon
# command in the other scripts: "ip netns exec NS as-pid1.sh DAEMON" keeps the daemon's
# output on this script's stdout and stderr.
# Env: PCMKR_PID1_ETC_PACEMAKER=DIR bind-mounts DIR on /etc/pacemaker inside first (what a
# bundle mounts: the key, and pcmk-init.env); the host's /etc/pacemaker is not touched.
# Nothing outlives this script, even when it is killed with SIGKILL: unshare gets SIGKILL when
# it dies (setpriv --pdeathsig), and CMD with unshare (--kill-child), which ends the namespace.
# Needs util-linux's setpriv and unshare.
set -uo pipefail
etc=${PCMKR_PID1_ETC_PACEMAKER:-}
[[ $# -ge 1 ]] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ -z $etc || -d $etc ]] || { echo "as-pid1.sh: $etc is not a directory" >&2; exit 2; }

# The inner shell is PID 1 until it execs CMD, which then is PID 1 itself.
# shellcheck disable=SC2016 # expanded by the inner shell
setpriv --pdeathsig KILL -- unshare --pid --fork --mount-proc --kill-child -- /bin/sh -c '
    if [ -n "$0" ]; then mount --bind "$0" /etc/pacemaker || exit 125; fi
    exec "$@"' "$etc" "$@" &
u=$!
child=''
for _ in $(seq 500); do
    child=$(cat "/proc/$u/task/$u/children" 2>/dev/null) || true
    child=${child%% *}
    [[ -n $child ]] && break
    kill -0 "$u" 2>/dev/null || break
    sleep 0.01
done
# shellcheck disable=SC2317 # called from the traps
forward() { [[ -n $child ]] && kill -"$1" "$child" 2>/dev/null; return 0; }
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
rc=0
# wait returns early (above 128) when a trapped signal arrives; go on until unshare ends.
while :; do
    wait "$u"
    rc=$?
    kill -0 "$u" 2>/dev/null || break
done
exit "$rc"
