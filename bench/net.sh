#!/bin/bash
# Networking benchmarks, called by bench.sh as the unprivileged user:
# iperf3 through burrow against the same driver set up by hand
# (rootlesskit with the same network and port drivers), and the start-up
# burrow's networking adds against the driver's own.
set -euo pipefail
BURROW=${BURROW:?}
RK=${ROOTLESSKIT:?}
RUNS=${RUNS:-30}
SECS=${SECS:-5}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; pkill -f "iperf3 -s -B 127.0.0.1 -p $HP" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
export XDG_RUNTIME_DIR=$work/run
mkdir -p "$XDG_RUNTIME_DIR"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
gbits() { { grep -o '"bits_per_second":[[:space:]]*[0-9.e+]*' || echo ':0'; } | tail -1 | awk -F: '{printf "%.2f", $2/1e9}'; }

# Egress: a client inside, the server on the host's loopback.
HP=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$HP" -D --logfile "$work/iperf-host.log"
sleep 0.3
echo "iperf3 throughput, Gbit/s (${SECS}s each; receiver side):"
printf "  %-12s %10s %10s %8s %10s %10s %8s\n" driver egress by-hand ratio ingress by-hand ratio
for drv in pasta slirp4netns; do
	eb=$("$BURROW" run --net=$drv --allow-host-loopback -- timeout 60 iperf3 -c 10.0.2.2 -p "$HP" -t "$SECS" -J 2>/dev/null | gbits)
	eh=$("$RK" --net=$drv --disable-host-loopback=false timeout 60 iperf3 -c 10.0.2.2 -p "$HP" -t "$SECS" -J 2>/dev/null | gbits)
	# Ingress: the server inside, reached through a published port.
	P1=$(free_port)
	"$BURROW" run --net=$drv -p 127.0.0.1:$P1:5201 -- iperf3 -s -1 >/dev/null 2>&1 &
	sleep 1.5
	ib=$(timeout 60 iperf3 -c 127.0.0.1 -p "$P1" -t "$SECS" -J 2>/dev/null | gbits)
	kill $! 2>/dev/null || true
	wait $! 2>/dev/null || true
	P2=$(free_port)
	# rootlesskit allows only pasta's own forwarding ("implicit") with
	# pasta; burrow uses the builtin driver with both.
	if [ $drv = pasta ]; then
		# rootlesskit refuses its builtin port driver with pasta (only
		# pasta's own, "implicit", forwarding, which is a different
		# path): no like-for-like reference.
		ih=n/a
	else
		"$RK" --net=$drv --port-driver=builtin -p 127.0.0.1:$P2:5201/tcp iperf3 -s -1 >/dev/null 2>&1 &
		sleep 1.5
		ih=$(timeout 60 iperf3 -c 127.0.0.1 -p "$P2" -t "$SECS" -J 2>/dev/null | gbits)
		kill $! 2>/dev/null || true
		wait $! 2>/dev/null || true
	fi
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0) printf "%.2fx", a/b; else printf "n/a" }'; }
	printf "  %-12s %10s %10s %8s %10s %10s %8s\n" $drv "$eb" "$eh" "$(ratio "$eb" "$eh")" "$ib" "$ih" "$(ratio "$ib" "$ih")"
done
echo "  target: throughput >= 0.9x the driver by hand"

csv=$(mktemp)
hyperfine -N --warmup 5 --runs "$RUNS" --export-csv "$csv" --style basic \
	-n burrow-none "$BURROW run -- true" \
	-n burrow-pasta "$BURROW run --net=pasta -- true" \
	-n burrow-slirp4netns "$BURROW run --net=slirp4netns -- true" \
	-n unshare "unshare -Urn true" \
	-n pasta-own "pasta --config-net --quiet --ipv4-only --tcp-ports=none --udp-ports=none -- true" \
	-n rk-host "$RK --net=host true" \
	-n rk-slirp4netns "$RK --net=slirp4netns true" >/dev/null 2>&1
echo
# The driver's own start-up: pasta making its own namespaces and running
# true, less unshare doing the same without a network; slirp4netns (which
# cannot make a namespace) through rootlesskit, less rootlesskit without.
echo "network start-up, median ms: what --net adds to burrow, against the driver's own start-up:"
awk -F, 'NR>1 {m[$1]=$4*1000} END {
	b = m["burrow-pasta"] - m["burrow-none"]; r = m["pasta-own"] - m["unshare"]
	printf "  %-12s burrow +%6.2f ms   pasta alone +%6.2f ms   %s\n", "pasta", b, r, (b <= r + 5) ? "met (<= +5 ms)" : "MISSED"
	b = m["burrow-slirp4netns"] - m["burrow-none"]; r = m["rk-slirp4netns"] - m["rk-host"]
	printf "  %-12s burrow +%6.2f ms   via rootlesskit +%6.2f ms   %s\n", "slirp4netns", b, r, (b <= r + 5) ? "met (<= +5 ms)" : "MISSED"
	}' "$csv"
rm -f "$csv"
