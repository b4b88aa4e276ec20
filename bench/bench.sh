#!/bin/bash
# make bench: burrow's start-up time against bwrap and unshare, measured in
# the same run with hyperfine, and the peak memory of burrow's own
# processes while a sandbox runs. Runs as an unprivileged user; as root it
# re-runs itself as the test user (scripts/provision.sh creates it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
TEST_USER=${BURROW_TEST_USER:-burrowtest}
RUNS=${RUNS:-300}

if [ "$(id -u)" = 0 ]; then
	./scripts/provision.sh
	work=$(mktemp -d /tmp/burrow-bench.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	cp burrow bench/bench.sh bench/cow.sh bench/net.sh "$work/"
	# rootlesskit, the reference for the network drivers by hand, built
	# from the module cache at the version burrow uses.
	GOBIN="$work" go install github.com/rootless-containers/rootlesskit/v2/cmd/rootlesskit@v2.3.6 || true
	chown -R "$TEST_USER:" "$work"
	su "$TEST_USER" -s /bin/bash -c "cd '$work' && BURROW='$work/burrow' RUNS=$RUNS ./bench.sh" | tee "${BENCH_OUT:-/dev/null}"
	exit "${PIPESTATUS[0]}"
fi

BURROW=${BURROW:-$PWD/burrow}
for p in hyperfine bwrap unshare; do
	command -v "$p" >/dev/null || { echo "bench: $p is missing: run 'make bench' as root once to provision" >&2; exit 1; }
done
cd "$(mktemp -d)"
csv=$(mktemp)
echo "# machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# user: $(id -un) (uid $(id -u)); burrow map: $("$BURROW" run --debug -- true 2>&1 | sed -n 's/.*map=\([a-z]*\).*/\1/p' | head -1)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $RUNS runs each, hyperfine -N --warmup 20"
hyperfine -N --warmup 20 --runs "$RUNS" --export-csv "$csv" --style basic \
	-n burrow "$BURROW run -- true" \
	-n burrow-single "$BURROW run --map=single -- true" \
	-n bwrap "bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent true" \
	-n unshare "unshare -Urmpinuf --mount-proc true" >/dev/null
echo
echo "start-up, median (ms) and ratio to bwrap:"
awk -F, 'NR>1 {name[NR]=$1; med[NR]=$4*1000; if ($1=="bwrap") b=$4*1000}
	END {for (i=2;i<=NR;i++) printf "  %-14s %7.2f ms  %5.2fx\n", name[i], med[i], med[i]/b}' "$csv"
awk -F, 'NR>1 && $1=="bwrap" {b=$4} NR>1 && $1=="burrow" {r=$4} END {
	printf "  target: burrow <= 1.5x bwrap: %s\n", (r/b <= 1.5) ? "met" : "MISSED"}' "$csv"

# The seccomp filter's cost: compiling it (ahead of time for the default),
# sending it to pid 1 and installing it. Two hyperfine series a minute
# apart differ by more than that on a shared machine, so the variants
# alternate run by run (in both orders), each run timed with bash's clock
# (no fork for it), and the median of the pairs' differences is reported.
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
us() { local t=${1/./}; echo $((10#$t)); }
: >"$csv.f"
: >"$csv.u"
: >"$csv.d"
for ((i = 0; i < RUNS; i++)); do
	for v in $([ $((i % 2)) = 0 ] && echo "f u" || echo "u f"); do
		opt=""
		[ "$v" = u ] && opt=--seccomp=unconfined
		t0=$EPOCHREALTIME
		"$BURROW" run $opt -- true
		t1=$EPOCHREALTIME
		eval "t_$v=$(($(us "$t1") - $(us "$t0")))"
	done
	echo "$t_f" >>"$csv.f"
	echo "$t_u" >>"$csv.u"
	echo $((t_f - t_u)) >>"$csv.d"
done
awk -v f="$(median <"$csv.f")" -v u="$(median <"$csv.u")" -v d="$(median <"$csv.d")" -v n="$RUNS" 'BEGIN {
	printf "  seccomp filter (%d interleaved pairs): default %.2f ms, unconfined %.2f ms; median difference %+.2f ms; target <= 0.5 ms: %s\n",
		n, f/1000, u/1000, d/1000, (d <= 500) ? "met" : "MISSED"}'
rm -f "$csv.f" "$csv.u" "$csv.d"

# Memory: the burrow processes alive while the sandbox runs (the CLI
# parent and pid 1 inside), sampled until the sandbox ends. VmHWM is each
# process's peak RSS; the binary's pages are shared by both and counted in
# each RSS, so the proportional set size (Pss) is reported too.
echo
echo "memory of burrow's processes while a sandbox runs (peak over 5 runs):"
best=""
for i in 1 2 3 4 5; do
	"$BURROW" run -- sleep 0.6 &
	bp=$!
	sleep 0.3
	hwm=0 pss=0 n=0
	for p in $bp $(pgrep -P $bp); do
		h=$(awk '/^VmHWM:/ {print $2}' /proc/$p/status)
		s=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup)
		hwm=$((hwm + h)) pss=$((pss + s)) n=$((n + 1))
	done
	wait $bp
	line="$n processes: peak RSS sum $((hwm / 1024)).$(((hwm % 1024) * 100 / 1024)) MiB, Pss sum $((pss / 1024)).$(((pss % 1024) * 100 / 1024)) MiB"
	[ -z "$best" ] && best=$line
	[ "$hwm" -gt "${maxhwm:-0}" ] && maxhwm=$hwm && maxpss=$pss && best=$line
done
echo "  $best"
echo "  target: <= 10 MiB: RSS $([ "$maxhwm" -le 10240 ] && echo met || echo MISSED), Pss $([ "$maxpss" -le 10240 ] && echo met || echo MISSED)"
rm -f "$csv"

echo
BURROW=$BURROW RUNS=$((RUNS / 3 + 1)) "$here/cow.sh"

echo
if [ -x "$here/rootlesskit" ]; then
	BURROW=$BURROW ROOTLESSKIT=$here/rootlesskit RUNS=$((RUNS / 10 + 5)) "$here/net.sh"
else
	echo "network benchmark skipped: rootlesskit could not be built" >&2
fi
