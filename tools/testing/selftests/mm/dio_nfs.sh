#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# O_DIRECT on NFS over loopback: the kernel's NFS server exports a tmpfs,
# started here with the nfs-kernel-server and rpcbind tools, and dio_pin
# runs on it mounted with each NFS version asked for.  The export is
# mounted twice: hard for the data cases and the fork() case (which stops
# and restarts the server under a read), soft (nosharecache) for the last
# case, which stops the server and expects the I/O to fail.
#
# Needs root and the tools; skips without them, and skips on a machine that
# already runs an NFS server (nfsd threads, rpc.mountd), which this must not
# disturb.
#
# usage: dio_nfs.sh [VERSION...]   (default: 3 4.2)
#
# DIO_PIN_ARGS, if set, replaces dio_pin's arguments after -d: "-b 0.5 -n 5"
# runs its benchmark on each mount instead of its tests.  DIO_NFS_TEST, if
# set, is run instead of dio_pin, with the (hard) mount point as its last
# argument: DIO_NFS_TEST="./uring_fixed_pin -m" tries io_uring on NFS.
#
# TAP: one result per version, dio_pin's own results nested under it.

ksft_skip=4
here=$(dirname "$(readlink -f "$0")")
versions=${*:-3 4.2}

skip() {
	echo "1..0 # SKIP $*"
	exit $ksft_skip
}

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

[ "$(id -u)" = 0 ] || skip "needs root"
for tool in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs; do
	command -v "$tool" >/dev/null || skip "no $tool (nfs-kernel-server, rpcbind)"
done
grep -qw nfsd /proc/filesystems || skip "no nfsd in this kernel"
# (nfsctl files have no size: read them)
if running nfsd || running rpc.mountd ||
		{ [ -r /proc/fs/nfsd/threads ] &&
		  [ "$(cat /proc/fs/nfsd/threads)" != 0 ]; }; then
	skip "an NFS server runs here already"
fi

export_dir=$(mktemp -d /tmp/dio_nfs.XXXXXX)
mnt=$export_dir.mnt
soft=$export_dir.soft
mkdir -p "$mnt" "$soft"
# what the tools need and the machine lacks is made here, and removed after
made=
for d in /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery /run/rpcbind; do
	[ -d "$d" ] && continue
	top=$d		# the outermost directory that is missing
	while [ ! -d "$(dirname "$top")" ]; do
		top=$(dirname "$top")
	done
	mkdir -p "$d" && made="$top $made"
done
for f in /etc/exports /var/lib/nfs/etab /var/lib/nfs/rmtab; do
	[ -e "$f" ] && continue
	touch "$f" && made="$f $made"
done
started_rpcbind=
mounted_nfsd=

cleanup() {
	umount -l "$mnt" 2>/dev/null
	umount -l "$soft" 2>/dev/null
	exportfs -u "127.0.0.1:$export_dir" 2>/dev/null
	rpc.nfsd 0 2>/dev/null
	stop rpc.mountd
	[ -n "$started_rpcbind" ] && stop rpcbind
	[ -n "$mounted_nfsd" ] && umount /proc/fs/nfsd 2>/dev/null
	for x in $made; do	# files first, then their directories
		if [ -d "$x" ]; then rm -rf "$x"; else rm -f "$x"; fi
	done
	umount "$export_dir" 2>/dev/null
	rmdir "$mnt" "$soft" "$export_dir" 2>/dev/null
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

# no reclaim can be due on a server that just started: the NFSv4 grace
# period (90 s otherwise) is ended at once.  nfsd refuses that (EBUSY)
# when it has no client tracking method: 7.3 builds the legacy ones only
# with CONFIG_NFSD_LEGACY_CLIENT_TRACKING, and the guest runs no nfsdcld.
# The grace period is then set to its 10 s minimum before the start, and
# waited out.
grace=/proc/fs/nfsd/v4_end_grace
start_cmd="rpc.nfsd 4 && { [ ! -w $grace ] || echo Y > $grace 2>/dev/null ||
	for i in \$(seq 30); do grep -q Y $grace && break; sleep 1; done; }"

mount -t tmpfs -o size=256M tmpfs "$export_dir" || fail "tmpfs"
if ! grep -q " /proc/fs/nfsd " /proc/mounts; then
	mount -t nfsd none /proc/fs/nfsd || fail "mount nfsd"
	mounted_nfsd=1
fi
# 1 MiB READ/WRITE RPCs whatever the memory size (nfsd's default scales
# with it): dio_pin's leak case counts on rsize to size its loop
echo 1048576 > /proc/fs/nfsd/max_block_size 2>/dev/null
echo 10 > /proc/fs/nfsd/nfsv4gracetime 2>/dev/null
if ! running rpcbind; then
	rpcbind -w || fail "rpcbind"
	started_rpcbind=1
fi
exportfs -o rw,sync,no_root_squash,insecure,no_subtree_check,fsid=$$ \
	"127.0.0.1:$export_dir" || fail "exportfs"
rpc.mountd || fail "rpc.mountd"
bash -c "$start_cmd" || fail "rpc.nfsd"

# nfs_mount VERSION DIR OPTIONS
nfs_mount() {
	local out mrc

	out=$(mount.nfs "127.0.0.1:$export_dir" "$2" \
		-o "vers=$1,nolock,proto=tcp,rsize=1048576,wsize=1048576,$3" 2>&1)
	mrc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# /'
	return $mrc
}

rc=0
n=0
for v in $versions; do
	n=$((n + 1))
	echo "# NFS version $v: 127.0.0.1:$export_dir on $mnt and $soft"
	running nfsd || bash -c "$start_cmd" || fail "rpc.nfsd"
	if ! nfs_mount "$v" "$mnt" "hard,timeo=50,retrans=3" ||
			! nfs_mount "$v" "$soft" \
				"soft,timeo=20,retrans=1,nosharecache"; then
		echo "not ok $n NFS version $v # mount failed"
		umount -l "$mnt" 2>/dev/null
		rc=1
		continue
	fi
	# a hard mount can wait for ever: bound every run
	if [ -n "${DIO_NFS_TEST:-}" ]; then
		# shellcheck disable=SC2086
		(cd "$here" && timeout 1200 $DIO_NFS_TEST "$mnt") 2>&1 |
			sed 's/^/# /'
	elif [ -n "${DIO_PIN_ARGS:-}" ]; then
		# shellcheck disable=SC2086
		timeout 1200 "$here/dio_pin" -d "$mnt" -L "nfs$v" \
			$DIO_PIN_ARGS 2>&1 | sed 's/^/# /'
	else
		# the last case stops the server; -f: this script runs only
		# where global changes are allowed (run_vmtests.sh -d)
		timeout 1200 "$here/dio_pin" -d "$mnt" -k "rpc.nfsd 0" \
			-r "$start_cmd" -g "$soft" -f 2>&1 | sed 's/^/# /'
	fi
	r=${PIPESTATUS[0]}
	# the server back before the unmounts, which talk to it
	running nfsd || bash -c "$start_cmd"
	umount "$mnt" || umount -l "$mnt"
	umount "$soft" || umount -l "$soft"
	if [ "$r" = 0 ]; then
		echo "ok $n NFS version $v"
	elif [ "$r" = "$ksft_skip" ]; then
		echo "ok $n NFS version $v # SKIP"
	else
		echo "not ok $n NFS version $v # exit status $r"
		rc=1
	fi
done
exit $rc
