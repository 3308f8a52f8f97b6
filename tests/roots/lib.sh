# shellcheck shell=bash disable=SC2034,SC2089,SC2090
# (SC2034: the variables are for the scripts that source this; SC2089/SC2090: the scripts
# kept in variables are run with "bash -c", never split.)
# Common helpers for tests/roots; source it, do not run it.
# Builds on tests/interop/lib.sh (pcmkr_log, pcmkr_die, pcmkr_wait_until, pcmkr_pid_alive,
# pcmkr_stop_pid) and adds: where roots live, the host's mirror, a minimal /dev, entering a
# root in fresh namespaces, and cgroup/veth helpers.

PCMKR_ROOTS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../interop/lib.sh
source "$PCMKR_ROOTS_SRC/../interop/lib.sh"

PCMKR_ROOTS_DIR=${PCMKR_ROOTS_DIR:-/var/cache/pcmkr-roots}
# Per-run state (pids, logs, overlay layers) of booted roots and clusters; on the host's disk.
PCMKR_ROOTS_RUN=${PCMKR_ROOTS_RUN:-/run/pcmkr-roots}
PCMKR_ROOTS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# pcmkr_roots_check_name NAME: names are recipe names: letters, digits, dash.
pcmkr_roots_check_name() {
    [[ ${1:-} =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || pcmkr_die "bad root name: '${1:-}'"
}

# pcmkr_roots_path NAME: the root's directory; fails unless it was built completely.
pcmkr_roots_path() {
    local root=$PCMKR_ROOTS_DIR/$1
    [[ -f $root/.pcmkr-recipe && -x $root/bin/sh ]] ||
        pcmkr_die "root $1 is not built (run: tests/roots/build $1)"
    pcmkr_roots_sane "$root"
    printf '%s\n' "$root"
}

# pcmkr_roots_sane DIR: refuses anything that could be the host's own file system.
pcmkr_roots_sane() {
    local real
    real=$(realpath -e "$1") || pcmkr_die "no such root: $1"
    [[ $real != / && $real == /*/* ]] || pcmkr_die "refusing root '$real'"
    [[ ! $real -ef / ]] || pcmkr_die "refusing root '$real': it is the host's /"
}

# pcmkr_roots_mirror: the Debian archive the host's apt uses (or $PCMKR_MIRROR). Reads
# deb822 .sources first, then sources.list; takes the first entry whose suite is a plain
# code name (so not -security or -updates).
pcmkr_roots_mirror() {
    if [[ -n ${PCMKR_MIRROR:-} ]]; then printf '%s\n' "$PCMKR_MIRROR"; return 0; fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^Types:/) types = $i
                    if ($i ~ /^URIs:/) uris = $i
                    if ($i ~ /^Suites:/) suites = $i
                }
                sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/)
                sub(/^Suites:[ \t]*/, "", suites); n = split(suites, s, /[ \t]+/)
                plain = 0
                for (j = 1; j <= n; j++) if (s[j] !~ /-/ && s[j] !~ /\//) plain = 1
                if (types ~ /(^|[ \t])deb([ \t]|$)/ && plain && u[1] ~ /^https?:/) { print u[1]; exit }
            }' "$f")
        [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) !~ /-/ && $i ~ /^https?:/) { print $i; exit } }' "$f")
        [[ -n $uri ]] && { printf '%s\n' "$uri"; return 0; }
    done
    pcmkr_die "no Debian archive found in the host's apt sources (set PCMKR_MIRROR)"
}

# The script (a string, for "bash -c") that fills an empty directory with a minimal /dev:
# the usual character devices, /dev/pts (its own instance), /dev/shm, /dev/mqueue, links,
# and /dev/console bound to $PCMKR_CONSOLE (a log file) or /dev/null. /dev/shm is a fresh
# tmpfs, or the host directory $PCMKR_SHM (so that processes entering one after the other
# share it).
# shellcheck disable=SC2016 # expanded by the inner shell
PCMKR_ROOTS_MKDEV='
d=$1
mknod -m 666 "$d/null" c 1 3; mknod -m 666 "$d/zero" c 1 5; mknod -m 666 "$d/full" c 1 7
mknod -m 666 "$d/random" c 1 8; mknod -m 666 "$d/urandom" c 1 9; mknod -m 666 "$d/tty" c 5 0
mkdir -m 755 "$d/pts" "$d/net"; mkdir -m 1777 "$d/shm"; mkdir -m 755 "$d/mqueue"
mknod -m 666 "$d/net/tun" c 10 200
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$d/pts"
ln -s pts/ptmx "$d/ptmx"; ln -s /proc/self/fd "$d/fd"
ln -s /proc/self/fd/0 "$d/stdin"; ln -s /proc/self/fd/1 "$d/stdout"; ln -s /proc/self/fd/2 "$d/stderr"
if [ -n "${PCMKR_SHM:-}" ]; then
    mount --bind "$PCMKR_SHM" "$d/shm"
else
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$d/shm"
fi
mount -t mqueue mqueue "$d/mqueue" 2>/dev/null || true
: > "$d/console"
mount --bind "${PCMKR_CONSOLE:-$d/null}" "$d/console"
'

# The script (for "bash -c '...' _ ROOT CMD...") run as the first process of new mount
# (and usually PID) namespaces: mounts the root onto itself, gives it a fresh /proc, a
# read-only /sys (writable cgroup2 at /sys/fs/cgroup when PCMKR_CGROUP2=1), a minimal /dev,
# private tmpfs /run, /tmp, /var/tmp (and /dev/shm) -- or, with PCMKR_PRIVATE_DIR, that
# host directory's run/, tmp/, vartmp/ bound there -- pivots into it, drops the old root and
# execs CMD. Nothing else of the host's file system stays reachable. Runs in a fresh mount
# namespace (unshare --mount).
# shellcheck disable=SC2016 # expanded by the inner shell
PCMKR_ROOTS_ENTER='
set -eu
r=$1; shift
[ "$(cd "$r" && pwd -P)" != / ] || { echo "enter: refusing the host root" >&2; exit 1; }
if [ -n "${PCMKR_PRIVATE_DIR:-}" ]; then
    mkdir -p "$PCMKR_PRIVATE_DIR/shm"; chmod 1777 "$PCMKR_PRIVATE_DIR/shm"
    export PCMKR_SHM="$PCMKR_PRIVATE_DIR/shm"
fi
mount --make-rprivate /
mount --bind "$r" "$r"
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
# Kernel-wide knobs stay out of reach: read-only /proc/sys and /proc/sysrq-trigger.
for p in sys sysrq-trigger; do
    [ -e "$r/proc/$p" ] || continue
    mount --bind "$r/proc/$p" "$r/proc/$p"
    mount -o remount,bind,ro,nosuid,nodev,noexec "$r/proc/$p"
done
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
if [ "${PCMKR_CGROUP2:-0}" = 1 ]; then
    mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$r/sys/fs/cgroup"
fi
mount -t tmpfs -o mode=755,nosuid,size=65536k dev "$r/dev"
bash -c "$PCMKR_ROOTS_MKDEV" _ "$r/dev"
if [ -n "${PCMKR_PRIVATE_DIR:-}" ]; then
    # Shared by every process that enters with the same directory (the node of a cluster).
    for p in run tmp vartmp; do mkdir -p "$PCMKR_PRIVATE_DIR/$p"; done
    chmod 755 "$PCMKR_PRIVATE_DIR/run"; chmod 1777 "$PCMKR_PRIVATE_DIR/tmp" "$PCMKR_PRIVATE_DIR/vartmp"
    mkdir -p -m 1777 "$PCMKR_PRIVATE_DIR/run/lock"
    mount --bind "$PCMKR_PRIVATE_DIR/run" "$r/run"
    mount --bind "$PCMKR_PRIVATE_DIR/tmp" "$r/tmp"
    mount --bind "$PCMKR_PRIVATE_DIR/vartmp" "$r/var/tmp"
else
    mount -t tmpfs -o mode=755,nosuid,nodev,size=25% run "$r/run"
    mkdir -m 1777 "$r/run/lock"
    mount -t tmpfs -o mode=1777,nosuid,nodev,size=25% tmp "$r/tmp"
    mount -t tmpfs -o mode=1777,nosuid,nodev,size=25% vartmp "$r/var/tmp"
fi
[ -z "${PCMKR_HOSTNAME:-}" ] || echo "$PCMKR_HOSTNAME" > /proc/sys/kernel/hostname
cd "$r"
mkdir -p .pcmkr-oldroot
pivot_root . .pcmkr-oldroot
cd /
umount -l /.pcmkr-oldroot
rmdir /.pcmkr-oldroot 2>/dev/null || true
exec "$@"
'
export PCMKR_ROOTS_MKDEV

# pcmkr_roots_overlay LOWER DIR: mounts an overlay of LOWER at DIR/merged, writes going to
# DIR/upper, so a run never changes the cached root. In the host's mount namespace, so the
# caller can copy files in and read logs; pcmkr_roots_overlay_down undoes it.
pcmkr_roots_overlay() {
    mkdir -p "$2/upper" "$2/work" "$2/merged"
    mountpoint -q "$2/merged" && return 0
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/merged"
}

pcmkr_roots_overlay_down() {
    local i
    for ((i = 0; i < 20; i++)); do
        mountpoint -q "$1/merged" || return 0
        umount "$1/merged" 2>/dev/null && return 0
        sleep 0.5
    done
    pcmkr_log "WARNING: $1/merged still busy after 10 s, detaching it"
    umount -l "$1/merged" || true
}

# pcmkr_roots_free_subnet PREFIX: prints X such that PREFIX.X.0/30 has no address here.
pcmkr_roots_free_subnet() {
    local used x
    used=$(ip -o -4 addr show | awk '{print $4}')
    for x in $(shuf -i 1-254); do
        grep -q "^${1//./\\.}\.$x\." <<<"$used" || { echo "$x"; return 0; }
    done
    pcmkr_die "no free $1.X.0/30 subnet"
}

# pcmkr_roots_veth_name TAG SIDE: a veth name (<= 15 chars) derived from TAG.
pcmkr_roots_veth_name() {
    printf 'pcmkr%08x%s' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)" "$2"
}

# pcmkr_roots_host_cgroup2: where the host's cgroup2 hierarchy is mounted (the unified
# hierarchy of a hybrid layout, or /sys/fs/cgroup itself).
pcmkr_roots_host_cgroup2() {
    local m
    m=$(findmnt -rno TARGET -t cgroup2 | head -n1)
    [[ -n $m ]] || pcmkr_die "no cgroup2 hierarchy mounted on this host"
    printf '%s\n' "$m"
}

# pcmkr_roots_cgroup_rm DIR: removes a cgroup tree, deepest first (all must be empty).
pcmkr_roots_cgroup_rm() {
    [[ -d $1 ]] || return 0
    find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d $1 ]] || pcmkr_log "WARNING: cgroup $1 not removed (processes left?)"
}

# pcmkr_roots_child PID: the single child of PID (the namespaces' PID 1 under unshare).
pcmkr_roots_child() {
    local c
    c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
    c=${c%% *}
    [[ -n $c ]] && printf '%s\n' "$c"
}
