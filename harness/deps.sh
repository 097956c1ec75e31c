#!/bin/sh
# Install what the harness needs from Debian's archive, only if missing.
# Usage: harness/deps.sh [extra packages...]
set -eu
PKGS="build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils \
ccache sparse qemu-system-x86 busybox-static liburing-dev git python3 perl \
rsync file apt-utils gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi \
nfs-kernel-server rpcbind nfs-common gnuplot-nox python3-sphinx \
python3-sphinx-rtd-theme python3-ply b4"
missing=""
for p in $PKGS "$@"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "==> deps: all present"
	exit 0
fi
echo "==> deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
