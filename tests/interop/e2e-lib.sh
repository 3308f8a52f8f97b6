# shellcheck shell=bash
# Helpers shared by the cluster scenarios e2e-executor.sh and e2e-proxy.sh; source it after
# lib.sh. They use the caller's STATE, STEP_TIMEOUT, CLUSTER, CLUSTER_LOG, LOG_OFFSET,
# STARTED_CLUSTER and CREATED, and its timing function.

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

# cluster_up WHAT: takes the machine-wide interop lock (one cluster per machine; fd 9 stays
# open until the script ends), notes where the cluster log ends now (LOG_OFFSET), and starts
# the cluster unless one is running (STARTED_CLUSTER=1 when this run started it).
cluster_up() {
    local t0
    exec 9>/run/lock/pcmkr-interop.lock
    flock -w 900 9 || pcmkr_die "another interop run holds /run/lock/pcmkr-interop.lock"
    LOG_OFFSET=$(stat -c %s "$CLUSTER_LOG" 2>/dev/null || echo 0)
    pcmkr_log "== cluster ($1)"
    t0=$(pcmkr_now_ms)
    if "$CLUSTER" running; then
        pcmkr_log "reusing the running cluster in $PCMKR_CLUSTER_DIR"
    else
        # shellcheck disable=SC2034 # read by the caller's teardown
        STARTED_CLUSTER=1
        "$CLUSTER" start
    fi
    timing cluster_ready $(( $(pcmkr_now_ms) - t0 ))
}

# ---- cluster queries ----------------------------------------------------------------

# mon_xml: the cluster status as XML; snapshot NAME: as text, with failures, into the state
# directory for the record; xq XPATH: XPATH applied to stdin.
mon_xml() { timeout 20 crm_mon -1 --output-as=xml 2>/dev/null; }
snapshot() { timeout 20 crm_mon -1 -r --include=failures >"$STATE/crm_mon-$1.txt" 2>&1 || true; }
xq() { xmllint --xpath "$1" - 2>/dev/null; }

# rsc_on RSC NODE [ROLE]: active on NODE only, not failed, in ROLE if given.
rsc_on() {
    local x
    x=$(mon_xml) || return 1
    [[ $(xq "string(//resources//resource[@id='$1']/@active)" <<<"$x") == true &&
       $(xq "string(//resources//resource[@id='$1']/@failed)" <<<"$x") == false &&
       $(xq "string(//resources//resource[@id='$1']/@nodes_running_on)" <<<"$x") == 1 &&
       $(xq "string(//resources//resource[@id='$1']/node/@name)" <<<"$x") == "$2" ]] || return 1
    [[ -z ${3:-} || $(xq "string(//resources//resource[@id='$1']/@role)" <<<"$x") == "$3" ]]
}
# rsc_stopped ID: a primitive, or every instance of clone ID, configured and on no node.
rsc_stopped() {
    local x
    x=$(mon_xml) || return 1
    if [[ $(xq "count(//resources/clone[@id='$1'])" <<<"$x") != 0 ]]; then
        # No bare "return": called from the EXIT trap, it would return the status from before the trap.
        [[ $(xq "count(//resources/clone[@id='$1']/resource[@role!='Stopped' or @nodes_running_on!='0'])" <<<"$x") == 0 ]] && return 0
        return 1
    fi
    [[ $(xq "string(//resources//resource[@id='$1']/@role)" <<<"$x") == Stopped &&
       $(xq "string(//resources//resource[@id='$1']/@nodes_running_on)" <<<"$x") == 0 ]]
}

# ---- removing what a scenario created -------------------------------------------------

all_stopped() {
    local r
    for r in "${CREATED[@]}"; do rsc_stopped "$r" || return 1; done
}

# remove_resources: stops every resource we created, then deletes them with all their
# constraints (ours and crm_resource --move's) in one CIB update: deleting the constraints
# first would let the cluster probe the stopped resources everywhere in between. Then
# clears their history.
remove_resources() {
    local r ok=0 ids='' refs='' xpath
    ((${#CREATED[@]})) || return 0
    for r in "${CREATED[@]}"; do set_role "$r" Stopped || ok=1; done
    if ! pcmkr_wait_until "$STEP_TIMEOUT" all_stopped; then
        pcmkr_log "WARNING: not all of ${CREATED[*]} stopped after $STEP_TIMEOUT s (crm_mon-teardown.xml)"
        mon_xml >"$STATE/crm_mon-teardown.xml" || true
        ok=1
    fi
    for r in "${CREATED[@]}"; do
        ids+="${ids:+ or }@id='$r'" refs+="${refs:+ or }@rsc='$r'"
    done
    xpath="//resources/primitive[$ids] | //resources/clone[$ids] | //constraints/rsc_location[$refs]"
    timeout 20 cibadmin --delete-all --force -A "$xpath" || ok=1
    for r in "${CREATED[@]}"; do timeout 20 crm_resource -C -r "$r" >/dev/null 2>&1 || true; done
    if timeout 20 cibadmin -Q -A "$xpath" >/dev/null 2>&1; then
        pcmkr_log "resources or constraints of ours still in the CIB"; ok=1
    fi
    CREATED=()
    return $ok
}
