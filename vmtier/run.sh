#!/bin/sh
# The guest tier (as root): build the guest with burrow inside, boot it
# under qemu (TCG: /dev/kvm here is a PVM hypervisor that cannot run a
# stock kernel), and check the results it prints on the serial console.
# Usage: run.sh BURROW_BINARY [WORKDIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
burrow=$1
out=${2:-/var/tmp/burrow-vm}
accel=tcg,thread=multi
grep -qE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && accel=kvm
sh "$here/build.sh" "$burrow" "$out"
echo "vm-tier: booting the guest ($accel)"
rm -f "$out/serial.log"
timeout 900 qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m 2G \
	-kernel "$out/vmlinuz" -initrd "$out/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 quiet systemd.unified_cgroup_hierarchy=1 systemd.show_status=0" \
	-drive "file=$out/rootfs.img,format=raw,if=virtio" -snapshot \
	-display none -serial "file:$out/serial.log" -no-reboot -nic none
grep '^TIER' "$out/serial.log" || true
grep -q '^TIER END' "$out/serial.log" || { echo "vm-tier: the guest did not finish its tests"; tail -40 "$out/serial.log"; exit 1; }
if grep -q '^TIER FAIL' "$out/serial.log"; then
	echo "vm-tier: FAILED"
	exit 1
fi
echo "vm-tier: all checks passed"
