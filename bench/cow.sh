#!/bin/bash
# Copy-on-write benchmarks, called by bench.sh as the unprivileged user:
# start-up of --root=cow and --image against the read-only view, and a
# file-system workload on a plain directory, the native overlay, the fuse
# driver, and fuse-overlayfs mounted by hand, as ratios to plain.
set -euo pipefail
BURROW=${BURROW:?}
RUNS=${RUNS:-100}
FILES=${FILES:-20000}
MIB=${MIB:-1024}
work=$(mktemp -d "$HOME/burrow-bench.XXXXXX")
trap 'cd /; "$BURROW" rm cowbench >/dev/null 2>&1 || true; "$BURROW" rmi benchimg >/dev/null 2>&1 || true; chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

# An image: a busybox tree.
mkdir -p img/bin img/etc
cp "$(command -v busybox)" img/bin/
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "img/bin/$a"; done
"$BURROW" import img benchimg >/dev/null 2>&1

csv=$(mktemp)
hyperfine -N --warmup 10 --runs "$RUNS" --export-csv "$csv" --style basic \
	-n ro-view "$BURROW run -- true" \
	-n root-cow "$BURROW run --root=cow -- true" \
	-n image "$BURROW run --image benchimg -- /bin/true" >/dev/null
echo "copy-on-write start-up, median (ms) and ratio to the read-only view:"
awk -F, 'NR>1 {name[NR]=$1; med[NR]=$4*1000; if ($1=="ro-view") b=$4*1000}
	END {for (i=2;i<=NR;i++) printf "  %-10s %7.2f ms  %5.2fx\n", name[i], med[i], med[i]/b}' "$csv"
awk -F, 'NR>1 && $1=="ro-view" {b=$4} NR>1 && $1=="root-cow" {r=$4} END {
	printf "  target: root-cow <= 1.3x ro-view: %s\n", (r/b <= 1.3) ? "met" : "MISSED"}' "$csv"
rm -f "$csv"

# The workload's inputs: FILES small files as a tarball, and the same
# tree unpacked as the lower layer to walk.
mkdir -p src
for ((i = 0; i < FILES; i++)); do
	d=src/d$((i / 500))
	[ -d "$d" ] || mkdir -p "$d"
	printf 'file %d\n' "$i" >"$d/f$i"
done
tar -cf files.tar -C src .
mkdir -p proj
mv src proj/lower
cp files.tar proj/

# Each phase timed inside, in ms: untar into the (upper) layer, a
# metadata walk of the lower, a sequential write and read of MIB MiB.
cat >proj/work.sh <<EOS
#!/bin/sh
t() { date +%s%N; }
a=\$(t); mkdir -p out; tar -xf files.tar -C out; sync; b=\$(t)
find lower -type f -exec stat -c %s {} + >/dev/null; c=\$(t)
dd if=/dev/zero of=big bs=1M count=$MIB conv=fsync status=none; d=\$(t)
dd if=big of=/dev/null bs=1M status=none; e=\$(t)
rm -rf out big
echo \$(( (b-a)/1000000 )) \$(( (c-b)/1000000 )) \$(( (d-c)/1000000 )) \$(( (e-d)/1000000 ))
EOS
chmod +x proj/work.sh

run_variant() {
	case $1 in
	plain) (cd proj && "$BURROW" run -- ./work.sh) ;;
	native) (cd proj && "$BURROW" run --project=cow --cow-driver=native -- ./work.sh) ;;
	fuse) (cd proj && "$BURROW" run --project=cow --cow-driver=fuse -- ./work.sh) ;;
	by-hand)
		rm -rf hand && mkdir -p hand/upper hand/work hand/merged
		unshare -Urm sh -c "fuse-overlayfs -o lowerdir=$work/proj,upperdir=$work/hand/upper,workdir=$work/hand/work $work/hand/merged && cd $work/hand/merged && ./work.sh; cd /; fusermount3 -u $work/hand/merged 2>/dev/null || umount $work/hand/merged"
		rm -rf hand
		;;
	esac
}

echo
echo "file-system workload ($FILES files, $MIB MiB), median of 3, ms and ratio to plain:"
printf "  %-8s %14s %14s %14s %14s\n" variant untar walk write read
declare -A res
for v in plain native fuse by-hand; do
	rows=()
	for _ in 1 2 3; do rows+=("$(run_variant $v)"); done
	med=""
	for col in 1 2 3 4; do
		med+="$(printf '%s\n' "${rows[@]}" | awk -v c=$col '{print $c}' | sort -n | sed -n 2p) "
	done
	res[$v]=$med
done
read -r pu pw pwr prd <<<"${res[plain]}"
for v in plain native fuse by-hand; do
	read -r u w wr rd <<<"${res[$v]}"
	printf "  %-8s %7d %5.2fx %7d %5.2fx %7d %5.2fx %7d %5.2fx\n" "$v" \
		"$u" "$(echo "$u $pu" | awk '{print ($2? $1/$2 : 0)}')" "$w" "$(echo "$w $pw" | awk '{print ($2? $1/$2 : 0)}')" \
		"$wr" "$(echo "$wr $pwr" | awk '{print ($2? $1/$2 : 0)}')" "$rd" "$(echo "$rd $prd" | awk '{print ($2? $1/$2 : 0)}')"
done
read -r nu _ <<<"${res[native]}"
read -r fu fw fwr frd <<<"${res[fuse]}"
read -r hu hw hwr hrd <<<"${res[by-hand]}"
awk -v n="$nu" -v p="$pu" 'BEGIN {printf "  target: native untar <= 2x plain: %s\n", (n <= 2*p) ? "met" : "MISSED"}'
awk -v f="$((fu + fw + fwr + frd))" -v h="$((hu + hw + hwr + hrd))" 'BEGIN {printf "  target: fuse driver no slower than fuse-overlayfs by hand (sum of phases %d vs %d ms): %s\n", f, h, (f <= h * 1.05) ? "met" : "MISSED"}'
