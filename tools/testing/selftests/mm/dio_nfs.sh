#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# O_DIRECT on NFS over loopback: the kernel's NFS server exports a tmpfs,
# started here with the nfs-kernel-server and rpcbind tools, and dio_pin
# runs on it mounted with NFSv3 and with NFSv4.2 (soft mounts, so that its
# last case can stop the server and see the I/O fail).  Needs root and the
# tools; skips without them.
#
# usage: dio_nfs.sh [VERSION...]   (default: 3 4.2)
#
# TAP: one result per version, dio_pin's own results nested under it.

ksft_skip=4
here=$(dirname "$(readlink -f "$0")")
versions=${*:-3 4.2}

skip() {
	echo "# SKIP: $*"
	echo "1..0 # SKIP $*"
	exit $ksft_skip
}

[ "$(id -u)" = 0 ] || skip "needs root"
for tool in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs; do
	command -v "$tool" >/dev/null || skip "no $tool (nfs-kernel-server, rpcbind)"
done
grep -qw nfsd /proc/filesystems || skip "no nfsd in this kernel"

# pids of the processes (or kernel threads) called $1
pids_of() {
	local d

	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
	done
}

running() {
	[ -n "$(pids_of "$1")" ]
}

stop() {
	local pids

	pids=$(pids_of "$1")
	[ -n "$pids" ] && kill $pids 2>/dev/null
}

export_dir=$(mktemp -d /tmp/dio_nfs.XXXXXX)
mnt=$export_dir.mnt
mkdir -p "$mnt" /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery \
	/run/rpcbind
touch /etc/exports /var/lib/nfs/etab /var/lib/nfs/rmtab
started_rpcbind=

cleanup() {
	umount -l "$mnt" 2>/dev/null
	exportfs -ua 2>/dev/null
	rpc.nfsd 0 2>/dev/null
	stop rpc.mountd
	[ -n "$started_rpcbind" ] && stop rpcbind
	umount "$export_dir" 2>/dev/null
	rmdir "$mnt" "$export_dir" 2>/dev/null
}
trap cleanup EXIT

nversions=$(echo $versions | wc -w)
echo "TAP version 13"
echo "1..$nversions"

fail() {
	echo "# NFS server setup failed: $*"
	echo "Bail out! NFS server setup: $*"
	exit 1
}

server_start() {
	rpc.nfsd 4 || return 1
	# no reclaim can be due on a server that just started: end the
	# NFSv4 grace period (90 s otherwise) at once
	[ -w /proc/fs/nfsd/v4_end_grace ] &&
		echo Y > /proc/fs/nfsd/v4_end_grace
	return 0
}

mount -t tmpfs -o size=256M tmpfs "$export_dir" || fail "tmpfs"
grep -q " /proc/fs/nfsd " /proc/mounts ||
	mount -t nfsd none /proc/fs/nfsd || fail "mount nfsd"
if ! running rpcbind; then
	rpcbind -w || fail "rpcbind"
	started_rpcbind=1
fi
exportfs -o rw,sync,no_root_squash,insecure,no_subtree_check,fsid=17 \
	"127.0.0.1:$export_dir" || fail "exportfs"
rpc.mountd || fail "rpc.mountd"
server_start || fail "rpc.nfsd"

rc=0
n=0
for v in $versions; do
	n=$((n + 1))
	echo "# NFS version $v: 127.0.0.1:$export_dir on $mnt"
	running nfsd || server_start || fail "rpc.nfsd"
	out=$(mount.nfs "127.0.0.1:$export_dir" "$mnt" \
		-o "vers=$v,nolock,soft,timeo=20,retrans=1,proto=tcp" 2>&1)
	mrc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# /'
	if [ "$mrc" != 0 ]; then
		echo "not ok $n NFS version $v # mount failed"
		rc=1
		continue
	fi
	# the last case stops the server (rpc.nfsd 0): the soft mount gives
	# up; the next version starts it again
	"$here/dio_pin" -d "$mnt" -k "rpc.nfsd 0" 2>&1 | sed 's/^/# /'
	r=${PIPESTATUS[0]}
	umount -l "$mnt"
	if [ "$r" = 0 ]; then
		echo "ok $n NFS version $v"
	else
		echo "not ok $n NFS version $v # dio_pin exit $r"
		rc=1
	fi
done
exit $rc
