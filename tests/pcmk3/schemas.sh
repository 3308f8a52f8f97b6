#!/bin/bash
# Usage: tests/pcmk3/schemas.sh CLUSTER OUR_DAEMON
# Schema transfer (protocol.md 17) against a real Pacemaker 3.x cluster (tests/roots/cluster
# CLUSTER), with our daemon (remote node rn1) and then the original of the same version (rn2).
# The node's schemas are made to lag the cluster's: both daemons and the node's tools get
# PCMK_schema_directory pointing at a copy of the installed schemas without the newest
# release's files (pacemaker-4.0 on 3.0.x), while the cluster's CIB validates with the newest.
# For each daemon:
#   fetched   after sign-on, the remote schema directory holds the files the cluster sent
#   tools     crm_mon -1 and crm_resource --list work with the lagging schemas
#   control   crm_resource --list fails when told the fetched files are elsewhere
# and, ours against the original: the same file names and contents.
# Prints "RESULT <kind> <check> pass|FAIL <detail>", then "PASS" or "FAIL". Holds the
# cluster's session lock like scenario.sh; starts and stops the cluster itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
roots=$here/../roots
# shellcheck source=../roots/lib.sh
source "$roots/lib.sh"
[[ $# -eq 2 ]] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
CL=$1 OURS=$2
[[ -x $OURS ]] || pcmkr_die "no executable daemon at $OURS"
C() { "$roots/cluster" "$CL" "$@"; }
failures=0
result() {
    local kind=$1 check=$2 verdict=$3
    shift 3
    echo "RESULT $kind $check $verdict $*"
    pcmkr_log "$kind: $check: $verdict $*"
    [[ $verdict == pass ]] || failures=$((failures + 1))
}

mkdir -p "$PCMKR_ROOTS_RUN"
exec 8>"$PCMKR_ROOTS_RUN/cluster-$CL.session.lock"
flock -w 1800 8 || pcmkr_die "cluster $CL: session lock busy for 30 min"
if C running; then pcmkr_die "cluster $CL already runs (another test's?); not touching it"; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pcmkr-schemas-$CL.XXXXXX")
started=0
cleanup() {
    local rc=$?
    if (( started )); then C stop >&2 || true; fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

C start >&2 || pcmkr_die "cluster $CL did not start"
started=1
nroot=$(C node-root)
install -m 0755 "$OURS" "$nroot/usr/local/sbin/pcmk-remoted"
original=/opt/pacemaker-remote/usr/sbin/pacemaker-remoted
[[ -x $nroot$original ]] || original=/usr/sbin/pacemaker-remoted
newest=$(ls "$nroot/usr/share/pacemaker" | sed -n 's/^pacemaker-\([0-9]*\.[0-9]*\)\.rng$/\1/p' | sort -V | tail -n1)
old=/var/lib/pcmkr-lagging-schemas
rm -rf "${nroot:?}$old"
cp -a "$nroot/usr/share/pacemaker" "$nroot$old"
rm -f "$nroot$old"/*-"$newest".rng "$nroot$old"/upgrade-*"$newest"*.xsl
lagging=$(ls "$nroot$old" | sed -n 's/^pacemaker-\([0-9]*\.[0-9]*\)\.rng$/\1/p' | sort -V | tail -n1)
pcmkr_log "cluster schemas up to $newest; the node's lag at $lagging"
C exec timeout 20 cibadmin --upgrade --force >/dev/null 2>&1 || true
validate=$(C exec timeout 20 cibadmin -Q 2>/dev/null | head -n1 | sed -n 's/.*validate-with="\([^"]*\)".*/\1/p')
pcmkr_log "the cluster's CIB validates with $validate"
env_node="PCMK_schema_directory=$old"
remote_dir=/var/lib/pacemaker/schemas

run_kind() { # KIND NODE BINARY
    local kind=$1 node=$2 bin=$3 out
    rm -rf "${nroot:?}$remote_dir"
    PCMKR_REMOTE_ENV="$env_node" C remote-start "$bin" >&2
    C add-remote "$node" >&2
    if ! pcmkr_wait_until 60 bash -c "[[ \$('$roots/cluster' '$CL' remote-state '$node') == online ]]"; then
        result "$kind" online FAIL "$(C remote-state "$node")"
    fi
    if pcmkr_wait_until 30 bash -c "ls '$nroot$remote_dir' 2>/dev/null | grep -q ."; then
        sleep 1
        (cd "$nroot$remote_dir" && find . -type f | sort | xargs sha256sum) >"$work/$kind.sums"
        result "$kind" fetched pass "$(wc -l <"$work/$kind.sums") files: $(awk '{print $2}' "$work/$kind.sums" | tr '\n' ' ' | head -c 300)"
    else
        result "$kind" fetched FAIL "nothing in $remote_dir; log: $(grep -i schema "$nroot/var/log/pacemaker/remote.log" | tail -n3 | tr '\n' ' ')"
        : >"$work/$kind.sums"
    fi
    out=$(C node env "$env_node" timeout 30 crm_mon -1 2>&1) && rc=0 || rc=$?
    if (( rc == 0 )) && grep -q "RemoteOnline: \[ $node \]" <<<"$out"; then
        result "$kind" tool_crm_mon pass
    else
        result "$kind" tool_crm_mon FAIL "exit $rc: $(head -c 300 <<<"$out")"
    fi
    out=$(C node env "$env_node" timeout 30 crm_resource --list 2>&1) && rc=0 || rc=$?
    if grep -q "$node.*(ocf:pacemaker:remote)" <<<"$out"; then
        result "$kind" tool_crm_resource pass
    else
        result "$kind" tool_crm_resource FAIL "exit $rc: $(head -c 300 <<<"$out")"
    fi
    # Control: the same tools, told to look for fetched schemas elsewhere, fail.
    out=$(C node env "$env_node" PCMK_remote_schema_directory=/nonexistent timeout 30 crm_resource --list 2>&1) && rc=0 || rc=$?
    if ! grep -q "$node.*(ocf:pacemaker:remote)" <<<"$out"; then
        result "$kind" control pass "without the fetched files: exit $rc: $(head -n1 <<<"$out" | head -c 200)"
    else
        result "$kind" control FAIL "the tools work without the fetched files: the node's schemas do not lag"
    fi
    C remove-remote "$node" >&2 || true
    C remote-stop >&2 || true
    grep -i "schema" "$nroot/var/log/pacemaker/remote.log" | tail -n3 | sed "s/^/LOG $kind /" || true
    cp "$nroot/var/log/pacemaker/remote.log" "$(C dir)/schemas-remote-$kind.log" 2>/dev/null || true
    : >"$nroot/var/log/pacemaker/remote.log"
}

run_kind ours rn1 /usr/local/sbin/pcmk-remoted
run_kind original rn2 "$original"
if [[ -s $work/ours.sums ]] && cmp -s "$work/ours.sums" "$work/original.sums"; then
    result ours same_as_original pass "$(wc -l <"$work/ours.sums") identical files"
else
    result ours same_as_original FAIL "$(diff "$work/ours.sums" "$work/original.sums" | head -c 400)"
fi
rm -rf "${nroot:?}$old" "${nroot:?}$remote_dir"
if (( failures == 0 )); then echo PASS; else echo "FAIL ($failures checks)"; exit 1; fi
