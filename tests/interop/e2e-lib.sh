# shellcheck shell=bash
# Helpers shared by the cluster scenarios e2e-executor.sh and e2e-proxy.sh; source it after
# lib.sh. They use the caller's STATE, STEP_TIMEOUT, CLUSTER_LOG, LOG_OFFSET and CREATED, and
# its timing and snapshot functions.

# log_has REGEX: the cluster log written since the run began matches REGEX.
# (grep without -q: an early exit would make tail fail with SIGPIPE under pipefail.)
log_has() { tail -c +$((LOG_OFFSET + 1)) "$CLUSTER_LOG" | grep -E "$1" >/dev/null; }

# step NAME CMD...: bounded wait for CMD; prints TIMING NAME, or fails with a snapshot.
step() {
    local name=$1 t0
    shift
    t0=$(pcmkr_now_ms)
    if ! pcmkr_wait_until "$STEP_TIMEOUT" "$@"; then
        snapshot "fail-$name"
        sed 's/^/  /' "$STATE/crm_mon-fail-$name.txt" >&2
        pcmkr_die "$name: not reached within $STEP_TIMEOUT s: $*"
    fi
    timing "$name" $(( $(pcmkr_now_ms) - t0 ))
}

# create RSC PRIMITIVE_XML CONSTRAINTS_XML: all in one CIB update, so the resource is never
# probed or placed before its constraints exist.
create() {
    CREATED+=("$1")
    timeout 20 cibadmin -M -X "<cib><configuration><resources>$2</resources><constraints>$3</constraints></configuration></cib>" ||
        pcmkr_die "could not create $1"
}

# only_on RSC NODE: the location constraint keeping RSC on NODE; never probed elsewhere
# (the namespaces share one file system, so another node's probe would see the state file).
only_on() {
    echo "<rsc_location id=\"loc-$1\" rsc=\"$1\" resource-discovery=\"never\"><rule id=\"loc-$1-r\" score=\"-INFINITY\"><expression id=\"loc-$1-e\" attribute=\"#uname\" operation=\"ne\" value=\"$2\"/></rule></rsc_location>"
}

# set_role RSC ROLE: the resource's target-role.
set_role() { timeout 20 crm_resource -r "$1" --meta -p target-role -v "$2" >/dev/null; }
