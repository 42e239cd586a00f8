#!/usr/bin/env bash
# Wall time of a full `dagrun remote pull` of a real cache into an empty
# cache, from a file:// remote and from an S3 server on loopback (versitygw,
# keep-alive on), against `cp -r` of the same cache folder (the physical
# limit of a copy on this disk) and `cp -r` followed by `sync -f` (a copy
# made durable, as a pull is: it syncs before it registers).
#
#   bench/remote/run.sh                     # table7 --profile ci, 5 rounds
#   ROUNDS=3 JOBS=16 bench/remote/run.sh
#   SPEC=experiments/table7.yaml PROFILE= bench/remote/run.sh   # the default profile (slow to fill)
#   SEED_REMOTE=file:///path/to/remote PROFILE= bench/remote/run.sh
#                                           # the default profile, filled from a remote
#   OLD=/path/to/old/dagrun bench/remote/run.sh   # A/B: an older binary pulls too
#   OLD=HEAD~3 bench/remote/run.sh                # ... built from a git revision
#
# The cache is filled once (into a scratch folder, not .dagrun/) by running
# the spec, or, with SEED_REMOTE=URL, by `dagrun remote pull` of the spec
# from that remote (read only: nothing is written there), so that a cache
# that takes long to compute (table7's default profile: 40 minutes) is
# benchmarked from a copy pushed once; then it is pushed to the bench's own
# file:// and S3 remotes. Each round times every side once,
# the order rotating from round to round so background load falls on all
# sides alike; each pull goes into a fresh empty cache. A side's number is
# its median over rounds. With OLD (a dagrun binary, or a git revision
# built into the scratch folder), that binary pulls from both remotes too,
# as the sides old-file and old-s3 in the same rotation, so a speed-up is
# measured in one run under the same load. The pulls' request counts are
# printed against entries + blobs, and every side's CPU time (user +
# system, the S3 server's included), which background load disturbs less
# than wall time. Before every round and after the last, with nothing of
# the bench's running, the script pauses IDLE seconds (default 10) and then
# measures the machine's busy CPU over SAMPLE seconds (default 5, from
# /proc/stat): that is the background load, what other processes take.
# The 1-minute load average cannot tell it: on a few cores the pulls' own
# threads raise it past the cores. If the background exceeds BG_MAX of the
# cores (default 0.25) at any sample, the table is printed for information
# but not called a result, and the script exits 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
SPEC=${SPEC:-experiments/table7.yaml}
PROFILE=${PROFILE-ci}
ROUNDS=${ROUNDS:-5}
JOBS=${JOBS:-8}
SEED_REMOTE=${SEED_REMOTE:-}
OLD=${OLD:-}
IDLE=${IDLE:-10}
SAMPLE=${SAMPLE:-5}
BG_MAX=${BG_MAX:-0.25}
cores=$(nproc)
export DAGRUN_DATA=${DAGRUN_DATA:-$root/third_party/data}
export DAGRUN_ONNXRUNTIME=${DAGRUN_ONNXRUNTIME:-$root/third_party/onnxruntime/libonnxruntime.so.1}
work=$(mktemp -d)
s3state=$work/s3
started_s3=0
cleanup() {
	if [ "$started_s3" = 1 ]; then DAGRUN_S3_STATE=$s3state scripts/s3/stop.sh || true; fi
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
overloaded=0
bg_worst=0
# cpu_ticks prints busy and total jiffies of all CPUs (busy: all but idle
# and iowait).
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
check_load() {
	local b0 t0 b1 t1 bg
	sleep "$IDLE"
	read -r b0 t0 < <(cpu_ticks)
	sleep "$SAMPLE"
	read -r b1 t1 < <(cpu_ticks)
	bg=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v c="$cores" 'BEGIN { printf "%.2f", (t > 0 ? c * b / t : 0) }')
	echo "   background: $bg of $cores cores busy over ${SAMPLE}s after ${IDLE}s idle;$(uptime | sed 's/.*,  *load/ load/')" >&2
	bg_worst=$(awk -v a="$bg" -v b="$bg_worst" 'BEGIN { print ((a > b) ? a : b) }')
	if awk -v b="$bg" -v c="$cores" -v m="$BG_MAX" 'BEGIN { exit !(b > m * c) }'; then
		echo "   background $bg > $BG_MAX x $cores cores" >&2
		overloaded=1
	fi
}
now() { date +%s.%N; }

GOAMD64=v1 go build -o "$work/dagrun" ./cmd/dagrun
old=
if [ -n "$OLD" ]; then
	if [ -f "$OLD" ] && [ -x "$OLD" ]; then
		old=$OLD
	else
		rev=$(git rev-parse --verify "$OLD^{commit}")
		echo "== building dagrun at $rev (OLD=$OLD)" >&2
		mkdir "$work/old-src"
		git archive "$rev" | tar -x -C "$work/old-src"
		(cd "$work/old-src" && GOAMD64=v1 go build -o "$work/dagrun-old" ./cmd/dagrun)
		old=$work/dagrun-old
	fi
fi
prof=()
if [ -n "$PROFILE" ]; then prof=(--profile "$PROFILE"); fi
dr() { "$work/dagrun" "${prof[@]}" "$@"; }

if [ -n "$SEED_REMOTE" ]; then
	echo "== filling the cache: dagrun ${prof[*]} --remote $SEED_REMOTE remote pull $SPEC" >&2
	dr --cache "$work/cache" --remote "$SEED_REMOTE" remote pull -j "$JOBS" "$SPEC" 2>&1 | tail -1 >&2
else
	echo "== filling the cache: dagrun ${prof[*]} $SPEC" >&2
	dr --cache "$work/cache" -q "$SPEC" >/dev/null
fi
entries=$(dr --cache "$work/cache" cache stats | awk '$1 == "entries" { print $2 }')
blobs=$(dr --cache "$work/cache" cache stats | awk '$1 == "blobs" { print $2 }')
bytes=$(du -sb "$work/cache" | cut -f1)
if [ "${entries:-0}" = 0 ]; then
	echo "run.sh: the cache holds no entry after filling it" >&2
	exit 1
fi

if [ -z "${DAGRUN_S3_ENDPOINT:-}" ]; then
	eval "$(DAGRUN_S3_STATE=$s3state DAGRUN_S3_PORT=${S3_PORT:-9519} scripts/s3/start.sh | sed 's/^/export /')"
	started_s3=1
fi
file_url="file://$work/remote"
s3_url="s3://dagrun-test/bench-$$?endpoint=$DAGRUN_S3_ENDPOINT"
for u in "$file_url" "$s3_url"; do
	dr --cache "$work/cache" --remote "$u" remote push -j "$JOBS" "$SPEC" 2>&1 | tail -1 >&2
done

# cpu CMD... runs CMD, leaving its user + system CPU seconds in $work/cpu.
cpu() { /usr/bin/time -f "%U %S" -o "$work/cpu.raw" "$@" && awk '{ print $1 + $2 }' "$work/cpu.raw" >"$work/cpu"; }
# server_ticks: CPU clock ticks the S3 server has used (0 if not ours).
server_ticks() {
	if [ "$started_s3" = 1 ] && [ -r "/proc/$(cat "$s3state/pid")/stat" ]; then
		awk '{ print $14 + $15 }' "/proc/$(cat "$s3state/pid")/stat"
	else
		echo 0
	fi
}

side() { # name -> seconds; the pulls also append their request count to $work/req.NAME
	local name=$1 dst=$work/dst t0 t1
	chmod -R u+w "$dst" 2>/dev/null || true
	rm -rf "$dst"
	sync -f "$work"
	local s0 s1
	s0=$(server_ticks)
	t0=$(now)
	case $name in
	cp) cpu cp -r "$work/cache" "$dst" ;;
	cp+sync) cpu sh -c 'cp -r "$1" "$2" && sync -f "$2"' sh "$work/cache" "$dst" ;;
	file | s3 | old-file | old-s3)
		local u=$file_url bin=$work/dagrun
		case $name in *s3) u=$s3_url ;; esac
		case $name in old-*) bin=$old ;; esac
		cpu "$bin" "${prof[@]}" --cache "$dst" --remote "$u" remote pull -j "$JOBS" "$SPEC" 2>"$work/err"
		;;
	esac
	t1=$(now)
	s1=$(server_ticks)
	# CPU seconds of the side's process, plus the S3 server's for s3.
	awk -v c="$(cat "$work/cpu")" -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" -v n="$name" \
		'BEGIN { if (n !~ /s3$/) s = 0; printf "%.3f\n", c + s / hz }' >>"$work/c.$name"
	if [ "$name" != cp ] && [ "$name" != cp+sync ]; then
		tail -1 "$work/err" | sed -n 's/.* \([0-9]*\) requests in .*/\1/p' >>"$work/req.$name"
		n=$(tail -1 "$work/err" | sed -n 's/^pull: \([0-9]*\) entries.*/\1/p')
		if [ "$n" != "$entries" ]; then
			echo "run.sh: pull from $name fetched ${n:-?} of $entries entries" >&2
			cat "$work/err" >&2
			exit 1
		fi
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$work/t.$name"
}

sides=(cp cp+sync file s3)
if [ -n "$old" ]; then sides+=(old-file old-s3); fi
ns=${#sides[@]}
for r in $(seq 1 "$ROUNDS"); do
	echo "== round $r/$ROUNDS" >&2
	check_load
	for i in $(seq 0 $((ns - 1))); do
		side "${sides[$(((i + r) % ns))]}"
	done
done
check_load

median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
cpm=$(median "$work/t.cp")
echo
echo "$SPEC ${prof[*]}: $entries entries, $blobs blobs, $bytes bytes in the cache folder; -j $JOBS; $ROUNDS rounds; $cores cores"
ccm=$(median "$work/c.cp")
printf "%-10s %10s %10s %10s %10s %10s %10s\n" side "median s" "x cp -r" "min s" "CPU s" "CPU x cp" requests
for s in "${sides[@]}"; do
	m=$(median "$work/t.$s")
	c=$(median "$work/c.$s")
	req=-
	[ -f "$work/req.$s" ] && req=$(median "$work/req.$s")
	printf "%-10s %10.3f %10.2f %10.3f %10.3f %10.2f %10s\n" "$s" "$m" "$(awk -v a="$m" -v b="$cpm" 'BEGIN { print a / b }')" \
		"$(sort -n "$work/t.$s" | head -1)" "$c" "$(awk -v a="$c" -v b="$ccm" 'BEGIN { print a / b }')" "$req"
done
echo "(CPU s: user + system seconds of the side's processes, and of the S3 server for s3; medians)"
if [ -n "$old" ]; then
	for s in file s3; do
		echo "old-$s / $s (median wall time): $(awk -v a="$(median "$work/t.old-$s")" -v b="$(median "$work/t.$s")" 'BEGIN { printf "%.2f", a / b }')"
	done
	echo "(old: $OLD)"
fi
echo "requests bound: 2 x (entries + blobs) = $((2 * (entries + blobs)))"
echo "background load: at most $bg_worst of $cores cores busy (sampled before every round and after the last; limit $BG_MAX x cores)"
if [ "$overloaded" = 1 ]; then
	echo "run.sh: the background load exceeded $BG_MAX of $cores cores: not a result" >&2
	exit 2
fi
