#!/bin/sh
# Runs at boot in the guest, as root; each check runs as the user tester
# through their lingering systemd user manager, and prints one
# "TIER PASS|FAIL name: detail" line on the serial console.
for i in $(seq 300); do
	[ -S /run/user/1000/bus ] && systemctl --user -M tester@ is-system-running >/dev/null 2>&1 && break
	sleep 0.2
done
as() { runuser -u tester -- env XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus HOME=/home/tester sh -c "cd /home/tester && $1" 2>&1; }
check() { if [ "$2" = 0 ]; then echo "TIER PASS $1: $3"; else echo "TIER FAIL $1: $3"; fi; }
echo "TIER START $(uname -r) $(stat -fc %T /sys/fs/cgroup)"

out=$(as '/opt/burrow run --memory 64M -- sh -c "head -c 400M /dev/zero | tail >/dev/null"; echo status=$?')
echo "$out" | grep -q "burrow: out of memory (limit 64M)" && echo "$out" | grep -q "status=137"
check memory $? "$(echo "$out" | tr '\n' ' ')"

out=$(as '/opt/burrow run --pids 20 -- sh -c "cat /sys/fs/cgroup/pids.max; i=0; while [ \$i -lt 60 ]; do sleep 5 & i=\$((i+1)); done"; echo status=$?')
echo "$out" | grep -qi "cannot fork\|resource temporarily unavailable" && echo "$out" | grep -q "^20$"
check pids $? "$(echo "$out" | tail -3 | tr '\n' ' ')"

# A fork bomb meets pids.max, ends with the sandbox, and leaves nothing.
out=$(as 'timeout 120 /opt/burrow run --pids 50 -- sh -c "cat /sys/fs/cgroup/pids.max; b() { b | b & }; b; sleep 2; echo bomb-done"; echo status=$?; sleep 1; echo left=$(ps -u tester -o comm= | grep -c "^sh$")')
left=$(echo "$out" | sed -n 's/^left=//p')
echo "$out" | grep -q "^50$" && ! echo "$out" | grep -q "status=124" && [ -n "$left" ] && [ "$left" -le 2 ]
check forkbomb $? "$(echo "$out" | grep -v "fork" | tail -4 | tr '\n' ' ')"

out=$(as '/opt/burrow run --cpus 0.5 -- sh -c "cat /sys/fs/cgroup/cpu.max; a=\$(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d\" \" -f2); timeout 4 sh -c \"while :; do :; done\"; b=\$(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d\" \" -f2); echo used=\$(( (b-a)/40000 ))%"')
used=$(echo "$out" | sed -n 's/^used=\([0-9]*\)%.*/\1/p')
echo "$out" | grep -q "^50000 100000" && [ -n "$used" ] && [ "$used" -ge 40 ] && [ "$used" -le 60 ]
check cpus $? "$(echo "$out" | tr '\n' ' ')"

out=$(as '/opt/burrow run --memory 64M --name sc -- sleep 2 & sleep 1; echo during=$(systemctl --user is-active burrow-sc.scope); wait; sleep 1; echo after=$(systemctl --user is-active burrow-sc.scope); true')
echo "$out" | grep -q "^during=active" && ! echo "$out" | grep -q "^after=active"
check scope $? "$(echo "$out" | tr '\n' ' ')"

# cgroupfs: burrow writes the limits itself, in a delegated shell's scope.
out=$(as 'systemd-run --user --scope --quiet -p Delegate=yes /opt/burrow run --cgroups=cgroupfs --memory 64M --pids 30 -- sh -c "cat /sys/fs/cgroup/pids.max; head -c 400M /dev/zero | tail >/dev/null"; echo status=$?')
echo "$out" | grep -q "burrow: out of memory (limit 64M)" && echo "$out" | grep -q "status=137" && echo "$out" | grep -q "^30$"
check cgroupfs $? "$(echo "$out" | tr '\n' ' ')"

rm -f /etc/systemd/system/user@.service.d/delegate.conf
systemctl daemon-reload
systemctl restart user@1000.service
for i in $(seq 100); do [ -S /run/user/1000/bus ] && break; sleep 0.2; done
sleep 1
out=$(as '/opt/burrow run --io-weight 200 -- true; echo status=$?')
echo "$out" | grep -q "not delegated to your systemd user manager" && echo "$out" | grep -q "status=125"
check undelegated $? "$(echo "$out" | tr '\n' ' ')"
echo "TIER END"
