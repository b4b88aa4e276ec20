#!/bin/sh
# The whole test suite. As root (a fresh machine, CI): provision, then run
# everything again as the unprivileged test user, in a copy of the tree
# that user owns. As any other user: run the suite.
set -eu
cd "$(dirname "$0")/.."
TEST_USER=${BURROW_TEST_USER:-burrowtest}

if [ "$(id -u)" = 0 ]; then
	./scripts/provision.sh
	GO=$(command -v go || echo /usr/local/go/bin/go)
	home=$(getent passwd "$TEST_USER" | cut -d: -f6)
	work=$(mktemp -d /tmp/burrow-test.XXXXXX)
	cp -a . "$work/src"
	chown -R "$TEST_USER:" "$work"
	chmod 0755 "$work"
	# A cgroup v2 subtree of the test user's own, as systemd's Delegate=
	# gives one: the systemd tier runs a private user manager in it.
	cgdir=""
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [ "$(stat -fc %T "$root" 2>/dev/null)" = cgroup2fs ]; then
			cgdir="$root/burrow-test-$$"
			mkdir -p "$cgdir" && chown -R "$TEST_USER:" "$cgdir" || cgdir=""
			break
		fi
	done
	# set +e: a clean-up step that fails must not change the suite's status.
	trap 'set +e; rm -rf "$work"; if [ -n "$cgdir" ]; then echo $$ >"$(dirname "$cgdir")/cgroup.procs"; find "$cgdir" -depth -type d -exec rmdir {} + 2>/dev/null; fi' EXIT
	echo "test: running the suite as $TEST_USER in $work/src${cgdir:+ (cgroup $cgdir)}"
	[ -n "$cgdir" ] && echo $$ >"$cgdir/cgroup.procs"
	# su resets nothing but what we pass: a clean, explicit environment.
	su "$TEST_USER" -s /bin/sh -c "cd '$work/src' && exec env -i \
		HOME='$home' USER='$TEST_USER' LOGNAME='$TEST_USER' SHELL=/bin/sh LANG=C.UTF-8 \
		PATH='$(dirname "$GO")':/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		CI='${CI:-}' GOPROXY='${GOPROXY:-}' GOFLAGS='${GOFLAGS:-}' GONOSUMDB='${GONOSUMDB:-}' GOSUMDB='${GOSUMDB:-}' \
		TMPDIR=/tmp ./scripts/test.sh"
	# The guest tier: limits enforced by a real systemd in a Debian guest
	# (vmtier/). Building it needs root; the checks inside run as an
	# unprivileged user. BURROW_VM_TIER=0 skips it outside CI.
	if [ "${BURROW_VM_TIER:-1}" != 0 ] || [ "${CI:-}" = true ]; then
		CGO_ENABLED=0 "$GO" build -trimpath -tags urfave_cli_no_docs -o "$work/burrow-vm" .
		./vmtier/run.sh "$work/burrow-vm" "$work/vm"
	fi
	exit 0
fi

echo "test: as $(id -un) (uid $(id -u)), $(go version)"
go vet ./...
# Pure packages under the race detector; then everything, end to end.
go test -race -count=1 ./userns ./cli ./sandbox ./config ./fuseoverlay ./image ./slirp ./cgroup ./logfile ./seccomp
go test -count=1 ./...
