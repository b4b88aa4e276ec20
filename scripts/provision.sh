#!/bin/sh
# Provision a fresh Debian/Ubuntu machine, as root, for burrow's tests:
# the programs they use, an unprivileged test user with subordinate ID
# ranges, and device modes as distributions ship them.
set -eu
TEST_USER=${BURROW_TEST_USER:-burrowtest}
PKGS="uidmap bubblewrap busybox-static slirp4netns passt fuse-overlayfs fuse3 util-linux procps hyperfine iproute2 git dnsmasq-base dnsutils curl iperf3 bash systemd dbus dbus-user-session qemu-system-x86 mmdebstrap e2fsprogs"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "provision: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! id "$TEST_USER" >/dev/null 2>&1; then
	echo "provision: creating user $TEST_USER"
	useradd --create-home --shell /bin/bash "$TEST_USER"
fi
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	if ! grep -q "^$TEST_USER:" "$f"; then
		# The next free block of 65536 after the highest one in use.
		start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
		echo "$TEST_USER:$start:65536" >>"$f"
	fi
done

# Distributions ship these 0666; this machine image ships them 0600.
for d in /dev/fuse /dev/net/tun; do
	[ -e "$d" ] && chmod 0666 "$d"
done
exit 0
