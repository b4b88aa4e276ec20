#!/bin/sh
# Build (as root) a small Debian guest whose systemd user manager runs
# burrow's enforcement tests at boot: ../../shared/VM-TIER.md has what was
# verified on these machines. Usage: build.sh BURROW_BINARY OUTDIR
set -eu
burrow=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/in"
# copy-in keeps the base name: the guest runs /opt/burrow.
cp "$burrow" "$out/in/burrow"
root="$out/root"
rm -rf "$root"
echo "vm-tier: building the guest root (mmdebstrap)"
mmdebstrap --mode=root --variant=minbase --quiet \
	--include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,udev,kmod,uidmap,procps,linux-image-amd64 \
	--customize-hook='chroot "$1" useradd -m -u 1000 -s /bin/sh tester' \
	--customize-hook='echo tester:100000:65536 >"$1/etc/subuid"; echo tester:100000:65536 >"$1/etc/subgid"' \
	--customize-hook='mkdir -p "$1/var/lib/systemd/linger" && touch "$1/var/lib/systemd/linger/tester"' \
	--customize-hook='mkdir -p "$1/etc/systemd/system/user@.service.d" && printf "[Service]\nDelegate=cpu cpuset io memory pids\n" >"$1/etc/systemd/system/user@.service.d/delegate.conf"' \
	--customize-hook='echo "/dev/vda / ext4 rw 0 1" >"$1/etc/fstab"; echo burrow-guest >"$1/etc/hostname"' \
	--customize-hook="copy-in $out/in/burrow $here/guest-tests.sh $here/burrow-tier.service /opt" \
	--customize-hook='mv "$1/opt/burrow-tier.service" "$1/etc/systemd/system/" && ln -s /etc/systemd/system/burrow-tier.service "$1/etc/systemd/system/multi-user.target.wants/burrow-tier.service"' \
	--customize-hook='chroot "$1" systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer getty@tty1.service serial-getty@ttyS0.service 2>/dev/null || true' \
	bookworm "$root"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
rm -f "$out/rootfs.img"
mkfs.ext4 -q -d "$root" "$out/rootfs.img" 3G
echo "vm-tier: guest built in $out"
