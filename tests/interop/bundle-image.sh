#!/bin/bash
# Usage: bundle-image.sh DIR DAEMON
# Builds the root file system of a bundle image in DIR/rootfs and its tar in DIR/rootfs.tar
# (for `podman import`, no registry): DAEMON (a static binary: ours from `cross/build
# x86_64-generic`) as /usr/sbin/pacemaker-remoted (the command Pacemaker runs in a bundle),
# stripped; a static busybox (Debian's busybox-static) with a link per applet, which is the
# shell and the tools OCF agents use (ocf-shellfuncs needs sh, basename, sed, awk, grep, date,
# touch, rm, mkdir, ...); ocf:pacemaker:Dummy with the OCF shell library from this host's
# resource-agents; /etc/passwd and /etc/group with root only; and
# /etc/libqb/force-filesystem-sockets, so the daemon's local IPC sockets live in the
# container's own /run even with network="host" (abstract names would clash with the host's
# cluster daemons: libqb's own answer for containers).
# Prints "IMAGE <tar> <tar bytes> <rootfs bytes> <daemon bytes> <busybox bytes>".
set -euo pipefail
[[ $# -eq 2 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
dir=$1 daemon=$2
busybox=$(command -v busybox) || { echo "bundle-image.sh: busybox missing (busybox-static)" >&2; exit 1; }
for f in "$daemon" "$busybox"; do
    file -L "$f" | grep -Eq 'statically linked|static-pie linked' ||
        { echo "bundle-image.sh: $f is not a static binary" >&2; exit 1; }
done
ocf=/usr/lib/ocf
[[ -x $ocf/resource.d/pacemaker/Dummy && -f $ocf/lib/heartbeat/ocf-shellfuncs ]] ||
    { echo "bundle-image.sh: Dummy or ocf-shellfuncs missing (pacemaker-resource-agents, resource-agents)" >&2; exit 1; }

root=$dir/rootfs
rm -rf --one-file-system "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/pacemaker,etc/libqb,proc,sys,dev,run,tmp,var/log,var/lib/pacemaker/cores,root}
mkdir -p "$root$ocf/resource.d/pacemaker" "$root$ocf/resource.d/heartbeat" "$root$ocf/lib/heartbeat"
chmod 1777 "$root/tmp"
ln -s ../run "$root/var/run"

install -m 755 "$daemon" "$root/usr/sbin/pacemaker-remoted"
strip "$root/usr/sbin/pacemaker-remoted" 2>/dev/null || true
install -m 755 "$busybox" "$root/bin/busybox"
# One link per applet, where busybox would install it; never over a file already there.
while read -r applet; do
    [[ $applet == /bin/busybox || -e $root$applet || -L $root$applet ]] && continue
    mkdir -p "$root$(dirname "$applet")"
    ln -s /bin/busybox "$root$applet"
done < <("$busybox" --list-full | sed 's|^|/|')

install -m 755 "$ocf/resource.d/pacemaker/Dummy" "$root$ocf/resource.d/pacemaker/Dummy"
for f in ocf-shellfuncs ocf-binaries ocf-returncodes ocf-directories ocf-rarun ocf-distro; do
    install -m 644 "$ocf/lib/heartbeat/$f" "$root$ocf/lib/heartbeat/$f"
done
for f in shellfuncs binaries returncodes directories; do
    ln -s "../../lib/heartbeat/ocf-$f" "$root$ocf/resource.d/heartbeat/.ocf-$f"
done

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
: >"$root/etc/libqb/force-filesystem-sockets"

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$dir/rootfs.tar" .
printf 'IMAGE %s %s %s %s %s\n' "$dir/rootfs.tar" "$(stat -c %s "$dir/rootfs.tar")" \
    "$(du -sb "$root" | cut -f1)" "$(stat -c %s "$root/usr/sbin/pacemaker-remoted")" \
    "$(stat -c %s "$root/bin/busybox")"
