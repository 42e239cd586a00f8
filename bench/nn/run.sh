#!/usr/bin/env bash
# Wall time of one training step (forward + backward + SGD-momentum update)
# at batch 32, dagrun (lib/nn) against the same networks in PyTorch on the
# CPU: the 784-128-10 mlp, the cnn (28x28, 10 classes) and the fcn (32x32
# and 64x64, 20 categories + background).
#
#   bench/nn/run.sh                       # 1 and 2 threads, 5 rounds, 20 steps
#   THREADS="2" ROUNDS=3 STEPS=10 bench/nn/run.sh
#   OLD=HEAD~2 bench/nn/run.sh            # A/B: lib/nn at a git revision runs too
#
# Fair by construction: both sides get the same threads (Go: -cpu, i.e.
# GOMAXPROCS; PyTorch: torch.set_num_threads and OMP_NUM_THREADS), each
# network runs in its own process per side, and the sides alternate within
# every round (the order flips each round) so background load falls on both.
# Each side's number is the median over rounds of its median step. PyTorch
# runs with tcmalloc preloaded, as CPU tuning guides advise, when Debian's
# libtcmalloc-minimal4 is installed.
#
# With OLD (a git revision), lib/nn as it was at that revision is built
# into a second test binary that runs as a third side in the same
# rotation, and the table gains its median and the ratio new / old: a
# speed-up measured in one run, under one load.
#
# The load average is printed before every round; if the 1-minute load
# exceeds the cores at any point, the script prints the table for
# information but refuses to call it a result and exits 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-1 2}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-20}
NETS=${NETS:-mlp cnn fcn32 fcn64}
OLD=${OLD:-}
PY=/usr/bin/python3
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
cores=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
overloaded=0

load() { cut -d' ' -f1 /proc/loadavg; }
check_load() {
	local l
	l=$(load)
	echo "   $(uptime)" >&2
	if awk -v l="$l" -v c="$cores" 'BEGIN { exit !(l > c) }'; then
		echo "   load $l > $cores cores" >&2
		overloaded=1
	fi
}

if ! $PY -c 'import torch' 2>/dev/null; then
	echo "run.sh: PyTorch not installed (apt-get install -y python3-torch)" >&2
	exit 1
fi
pre=()
if [ -e "$TCMALLOC" ]; then
	pre=(env "LD_PRELOAD=$TCMALLOC")
else
	echo "run.sh: $TCMALLOC missing (apt-get install -y libtcmalloc-minimal4); PyTorch uses glibc malloc" >&2
fi

# One compiled test binary, so rounds do not time the Go build.
go test -c -o "$out/nn.test" ./lib/nn
if [ -n "$OLD" ]; then
	rev=$(git rev-parse --verify "$OLD^{commit}")
	echo "== building lib/nn at $rev (OLD=$OLD)" >&2
	mkdir "$out/old-src"
	git archive "$rev" | tar -x -C "$out/old-src"
	(cd "$out/old-src" && go test -c -o "$out/old.test" ./lib/nn)
fi

go_side() { # threads net [test binary] -> "median_s peak_heap_MiB allocs_per_step B_per_step"
	"${3:-$out/nn.test}" -test.run '^$' -test.bench "^BenchmarkTrainStep\$/^$2\$" \
		-test.benchtime "${STEPS}x" -test.benchmem -test.cpu "$1" |
		awk '/^BenchmarkTrainStep\// {
			for (i = 1; i <= NF; i++) {
				if ($(i+1) == "median-ns/step") m = $i / 1e9
				if ($(i+1) == "peak-heap-MiB") h = $i
				if ($(i+1) == "allocs/op") a = $i
				if ($(i+1) == "B/op") b = $i
			}
			print m, h, a, b }'
}
torch_side() { # threads net -> "median_s peak_rss_MiB"
	"${pre[@]}" OMP_NUM_THREADS="$1" MKL_NUM_THREADS="$1" \
		$PY bench/nn/torch_step.py --threads "$1" --steps "$STEPS" --net "$2" |
		awk -v n="$2" '$1 == n { print $2, $3 }'
}

for t in $THREADS; do
	for r in $(seq 1 "$ROUNDS"); do
		echo "== threads $t, round $r/$ROUNDS" >&2
		check_load
		for n in $NETS; do
			if [ $((r % 2)) -eq 1 ]; then
				echo "$t $n $(go_side "$t" "$n")" >>"$out/go.txt"
				if [ -n "$OLD" ]; then echo "$t $n $(go_side "$t" "$n" "$out/old.test")" >>"$out/old.txt"; fi
				echo "$t $n $(torch_side "$t" "$n")" >>"$out/torch.txt"
			else
				echo "$t $n $(torch_side "$t" "$n")" >>"$out/torch.txt"
				if [ -n "$OLD" ]; then echo "$t $n $(go_side "$t" "$n" "$out/old.test")" >>"$out/old.txt"; fi
				echo "$t $n $(go_side "$t" "$n")" >>"$out/go.txt"
			fi
		done
	done
done
check_load
"$PY" -c 'import torch; print("PyTorch", torch.__version__)'

echo
echo "seconds per step at batch 32 (median over $ROUNDS rounds of each side's median of $STEPS steps)"
if [ -n "$OLD" ]; then echo "(old: lib/nn at $OLD, $rev)"; fi
printf '%-7s %7s %10s %10s %8s %11s %10s %12s' threads network dagrun pytorch ratio allocs/step go-heapMiB torch-rssMiB
if [ -n "$OLD" ]; then printf ' %10s %9s' old new/old; fi
echo
$PY - "$out/go.txt" "$out/torch.txt" "$THREADS" "$NETS" "$out/old.txt" <<'PYEOF'
import os, statistics, sys
def read(p):
    d = {}
    if not os.path.exists(p):
        return d
    for line in open(p):
        f = line.split()
        d.setdefault((f[0], f[1]), []).append([float(x) for x in f[2:]])
    return d
g, t, o = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[5])
for th in sys.argv[3].split():
    for n in sys.argv[4].split():
        gs, ts = g[(th, n)], t[(th, n)]
        gm = statistics.median(r[0] for r in gs)
        tm = statistics.median(r[0] for r in ts)
        line = f"{th:<7} {n:>7} {gm:10.5f} {tm:10.5f} {gm/tm:8.2f} {max(r[2] for r in gs):11.0f} {max(r[1] for r in gs):10.1f} {max(r[1] for r in ts):12.1f}"
        if (th, n) in o:
            om = statistics.median(r[0] for r in o[(th, n)])
            line += f" {om:10.5f} {gm/om:9.2f}"
        print(line)
PYEOF
if [ "$overloaded" = 1 ]; then
	echo "run.sh: NOT A RESULT: the load average exceeded $cores cores during the run; rerun when the machine is idle" >&2
	exit 2
fi
