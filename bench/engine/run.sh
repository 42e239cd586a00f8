#!/usr/bin/env bash
# bench/engine/run.sh — engine overhead of dagrun beside snakemake and make.
#
# One DAG of N trivial, independent shell commands (default 10000, a 100×100
# matrix) is written as a dagrun spec, a Snakefile and a Makefile (gen.sh),
# then each tool is timed on the same machine in the same run: a cold run,
# a no-op rerun and a dry run / up-to-date check. The result is a Markdown
# report on stdout; progress goes to stderr.
#
# Environment:
#   N=10000         number of nodes
#   REPS=3          repetitions of each fast operation (median reported)
#   COLD_REPS=1     repetitions of each cold run (minutes each at N=10000)
#   JOBS=2          parallelism of the cold runs (-j)
#   COLD_TIMEOUT=600  seconds after which a cold run is interrupted (SIGINT) and
#                   reported as "> COLD_TIMEOUT" with how many outputs it made;
#                   the rest of the outputs are then made with make, so the
#                   no-op and dry-run measurements still see a finished build
#   SNAKEMAKE_SCHEDULER=greedy  snakemake's --scheduler (its default, ilp,
#                   calls the cbc solver every round: hours for 10000 jobs)
#   DAGRUN=bin/dagrun  the binary (built with `go build` when absent)
#   SKIP_SNAKEMAKE=1 / SKIP_MAKE=1  leave a peer out
#   KEEP=1          keep the temporary folder (its path is printed)
#   OUT=FILE        also write the report to FILE
#   PROFILE=1       also profile dagrun's plan and cached rerun on the built
#                   cache (bench/engine/prof under pprof); the CPU profiles go to
#                   PROF_DIR (default bench/engine/out) and their top functions
#                   into the report
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

N=${N:-10000}
REPS=${REPS:-3}
COLD_REPS=${COLD_REPS:-1}
JOBS=${JOBS:-2}
COLD_TIMEOUT=${COLD_TIMEOUT:-600}
SNAKEMAKE_SCHEDULER=${SNAKEMAKE_SCHEDULER:-greedy}
DAGRUN=${DAGRUN:-$root/bin/dagrun}

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

for v in N REPS COLD_REPS JOBS COLD_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got \"${!v}\""
done

# --- tools -----------------------------------------------------------------

if [[ ! -x $DAGRUN ]]; then
	say "building $DAGRUN"
	(cd "$root" && go build -o "$DAGRUN" ./cmd/dagrun) || die "go build ./cmd/dagrun failed"
fi
case $DAGRUN in /*) ;; *) DAGRUN=$PWD/$DAGRUN ;; esac

have_snakemake=0
if [[ ${SKIP_SNAKEMAKE:-0} != 1 ]]; then
	if ! command -v snakemake >/dev/null; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
			say "snakemake missing: apt-get install -y snakemake"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q snakemake >&2 ||
				say "apt-get install snakemake failed"
		fi
	fi
	if command -v snakemake >/dev/null; then
		have_snakemake=1
	else
		say "snakemake not found and not installable here (not root or no apt-get): skipping that peer"
	fi
fi
have_make=0
if [[ ${SKIP_MAKE:-0} != 1 ]]; then
	if command -v make >/dev/null; then have_make=1; else say "make not found: skipping that peer"; fi
fi

# --- workspace -------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/dagrun-bench.XXXXXX") || die "mktemp failed"
if [[ ${KEEP:-0} == 1 ]]; then
	say "keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi
read -r A B < <("$here/gen.sh" "$work" "$N") || die "gen.sh failed"
# A private copy, so that a rebuild of bin/dagrun during the run changes nothing.
cp "$DAGRUN" "$work/dagrun" || die "copy $DAGRUN failed"
DAGRUN=$work/dagrun
say "N=$N nodes ($A×$B) in $work, REPS=$REPS COLD_REPS=$COLD_REPS JOBS=$JOBS"
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# --- timing ----------------------------------------------------------------

declare -A median runs
rows=()
notes=()
timed_out=0

now() { date +%s.%N; }

# measure KEY TOOL OPERATION REPS EXPECT_RC PREP CMD [TIMEOUT]
# runs PREP (untimed) then CMD (timed, output discarded) REPS times, in $work;
# a run whose exit status is not EXPECT_RC aborts the benchmark. With
# TIMEOUT, a run still going after TIMEOUT seconds is interrupted, reported as
# "> TIMEOUT" and ends the repetitions; timed_out is then 1.
measure() {
	local key=$1 tool=$2 op=$3 reps=$4 want=$5 prep=$6 cmd=$7 limit=${8:-}
	local i t0 t1 rc times=()
	timed_out=0
	say "$tool: $op ($reps×)"
	for ((i = 0; i < reps; i++)); do
		(cd "$work" && eval "$prep") || die "$tool $op: prepare failed: $prep"
		t0=$(now)
		if [[ -n $limit ]]; then
			(cd "$work" && eval "timeout -s INT -k 60 $limit $cmd") >"$work/last.log" 2>&1
		else
			(cd "$work" && eval "$cmd") >"$work/last.log" 2>&1
		fi
		rc=$?
		t1=$(now)
		if [[ -n $limit && ($rc == 124 || $rc == 137) ]]; then
			timed_out=1
			median[$key]=">$limit"
			runs[$key]="interrupted after $limit s"
			rows+=("$key|$tool|$op")
			say "  interrupted after $limit s"
			return 0
		fi
		if [[ $rc != "$want" ]]; then
			tail -n 20 "$work/last.log" >&2
			die "$tool $op: exit status $rc, want $want: $cmd"
		fi
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
	done
	median[$key]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	runs[$key]=$(printf '%s ' "${times[@]}")
	rows+=("$key|$tool|$op")
	say "  median ${median[$key]} s (${runs[$key]% })"
}

D="'$DAGRUN'"
cache="'$work/cache'"
fresh="'$work/fresh'"

# The order matters: each tool's dry run on a fresh state comes first, then
# the cold run, whose final repetition leaves everything built for the rest.
measure d.planfresh dagrun "plan, nothing cached" "$REPS" 0 "rm -rf $fresh" "$D plan --cache $fresh spec.yaml"
measure d.cold dagrun "cold run -j $JOBS" "$COLD_REPS" 0 "rm -rf $cache" "$D --cache $cache -j $JOBS --quiet spec.yaml" "$COLD_TIMEOUT"
if ((timed_out)); then
	say "dagrun: finishing the interrupted cold run (untimed)"
	(cd "$work" && "$DAGRUN" --cache "$work/cache" -j "$JOBS" --quiet spec.yaml) >/dev/null 2>&1 ||
		die "dagrun: finishing the cold run failed"
	notes+=("dagrun's cold run was interrupted after $COLD_TIMEOUT s; it was finished untimed before the cached measurements.")
fi
measure d.cached dagrun "fully cached rerun" "$REPS" 0 ":" "$D --cache $cache -j $JOBS --quiet spec.yaml"
measure d.plan dagrun "plan, all cached" "$REPS" 0 ":" "$D plan --cache $cache spec.yaml"

if ((have_snakemake)); then
	S="snakemake --snakefile Snakefile --quiet"
	clean="rm -rf out .snakemake"
	measure s.dryfresh snakemake "-n dry run, nothing built" "$REPS" 0 "$clean" "$S -n -j $JOBS"
	measure s.cold snakemake "cold run -j $JOBS" "$COLD_REPS" 0 "$clean" "$S -j $JOBS --scheduler $SNAKEMAKE_SCHEDULER" "$COLD_TIMEOUT"
	if ((timed_out)); then
		made=$(find "$work/out" -name '*.txt' 2>/dev/null | wc -l)
		median[s.cold]=">$COLD_TIMEOUT"
		runs[s.cold]="interrupted after $COLD_TIMEOUT s with $made of $N outputs made"
		say "snakemake: $made of $N outputs made; making the rest with make (untimed)"
		(cd "$work" && rm -rf .snakemake/incomplete .snakemake/locks && make -s -j "$JOBS") >/dev/null 2>&1 ||
			die "make could not finish snakemake's outputs"
		notes+=("snakemake's cold run was interrupted after $COLD_TIMEOUT s with $made of $N outputs made; the rest were made by make (same files) before its no-op and dry-run measurements.")
	fi
	if ! (cd "$work" && snakemake --snakefile Snakefile -n -j "$JOBS" 2>&1) | grep -q 'Nothing to be done'; then
		notes+=("WARNING: after the cold run, snakemake -n did not say \"Nothing to be done\": its no-op figures may include work.")
	fi
	measure s.noop snakemake "no-op rerun" "$REPS" 0 ":" "$S -j $JOBS"
	measure s.dry snakemake "-n dry run, all built" "$REPS" 0 ":" "$S -n -j $JOBS"
	rm -rf "$work/out" "$work/.snakemake"
fi

if ((have_make)); then
	measure m.dryfresh make "-n dry run, nothing built" "$REPS" 0 "rm -rf out" "make -n"
	measure m.cold make "cold run -j $JOBS" "$COLD_REPS" 0 "rm -rf out" "make -s -j $JOBS" "$COLD_TIMEOUT"
	if ((timed_out)); then
		(cd "$work" && make -s -j "$JOBS") >/dev/null 2>&1 || die "make: finishing the cold run failed"
		notes+=("make's cold run was interrupted after $COLD_TIMEOUT s; it was finished untimed.")
	fi
	measure m.noop make "no-op rerun" "$REPS" 0 ":" "make -s -j $JOBS"
	measure m.q make "-q up-to-date check" "$REPS" 0 ":" "make -q"
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

# --- profile ---------------------------------------------------------------

# The cache is fully built here (dagrun's last measurements were cached
# reruns), so both profiles see the state the 1 s target is about.
prof_report=""
if [[ ${PROFILE:-0} == 1 ]]; then
	PROF_DIR=${PROF_DIR:-$here/out}
	mkdir -p "$PROF_DIR" || die "mkdir $PROF_DIR failed"
	say "profile: building bench/engine/prof"
	(cd "$root" && go build -o "$PROF_DIR/prof" ./bench/engine/prof) || die "go build ./bench/engine/prof failed"
	for op in plan run; do
		say "profile: $op"
		phases=$(cd "$work" && "$PROF_DIR/prof" -op $op -cache "$work/cache" -j "$JOBS" \
			-cpuprofile "$PROF_DIR/cpu-$op.out" spec.yaml 2>&1) || die "prof -op $op failed: $phases"
		top=$(go tool pprof -top -cum -nodecount=35 "$PROF_DIR/prof" "$PROF_DIR/cpu-$op.out" 2>/dev/null |
			sed -n '/flat%/,$p')
		prof_report+=$'\n'"### CPU profile: \`$op\` on the fully cached state"$'\n\n'
		prof_report+="Wall time per phase (bench/engine/prof):"$'\n\n```\n'"$phases"$'\n```\n\n'
		prof_report+="\`go tool pprof -top -cum\` ($PROF_DIR/cpu-$op.out):"$'\n\n```\n'"$top"$'\n```\n'
	done
fi

# --- report ----------------------------------------------------------------

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576; exit }' /proc/meminfo 2>/dev/null)
rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null)
dirty=$(cd "$root" && git status --porcelain -- cmd dag spec cache nodes 2>/dev/null | head -1)
ver_go=$(go version 2>/dev/null | awk '{ print $3 }')
ver_sm=$( ((have_snakemake)) && snakemake --version 2>/dev/null)
ver_make=$( ((have_make)) && make --version 2>/dev/null | head -1)

ratio() { # ratio DAGRUN_KEY PEER_KEY DAGRUN_OP PEER
	[[ -n ${median[$2]:-} ]] || return 0
	awk -v a="${median[$1]}" -v b="${median[$2]}" -v d="$3" -v p="$4" 'BEGIN {
		# ">T" is a run interrupted after T seconds: a bound, not a time.
		la = sub(/^>/, "", a); lb = sub(/^>/, "", b)
		if (la && lb) r = "n/a"
		else if (b + 0 <= 0) r = "n/a"
		else r = (la ? ">" : (lb ? "<" : "")) sprintf("%.3f", a / b)
		printf "| %s | %s | %s%.3f | %s%.3f | %s |\n", d, p, (la ? ">" : ""), a, (lb ? ">" : ""), b, r }'
}

target() { # target KEY WHAT
	awk -v s="${median[$1]}" -v w="$2" -v n="$N" 'BEGIN {
		printf "- %s of %d nodes: %.3f s — %s\n", w, n, s, (s < 1.0 ? "under 1 s: met" : "1 s or more: MISSED") }'
}

report() {
	echo "## dagrun engine overhead: $N trivial nodes ($A×$B), -j $JOBS"
	echo
	echo "Machine: $(nproc) CPU(s), ${cpu:-unknown CPU}, ${mem:-? GiB} RAM, Linux $(uname -r)."
	echo "Snakemake runs with \`--scheduler $SNAKEMAKE_SCHEDULER\` for its cold run; cold runs are interrupted after $COLD_TIMEOUT s."
	echo "Versions: dagrun ${rev:-?}${dirty:+ (with uncommitted engine changes)} built by ${ver_go:-go ?};" \
		"snakemake ${ver_sm:-not run}; ${ver_make:-make not run}."
	echo "Medians of $REPS run(s) ($COLD_REPS for cold runs), wall clock from \`date +%s.%N\`, output discarded;"
	echo "load average before ${load_before:-?}, after ${load_after:-?}."
	echo
	echo "| tool | operation | median s | runs s |"
	echo "|---|---|---:|---|"
	local r key tool op
	for r in "${rows[@]}"; do
		IFS='|' read -r key tool op <<<"$r"
		echo "| $tool | $op | ${median[$key]} | ${runs[$key]% } |"
	done
	echo
	echo "Ratios (dagrun / peer; below 1 means dagrun is faster):"
	echo
	echo "| dagrun operation | peer operation | dagrun s | peer s | dagrun/peer |"
	echo "|---|---|---:|---:|---:|"
	ratio d.cached s.noop "fully cached rerun" "snakemake no-op rerun"
	ratio d.cached m.noop "fully cached rerun" "make no-op rerun"
	ratio d.plan s.dry "plan, all cached" "snakemake -n, all built"
	ratio d.plan m.q "plan, all cached" "make -q"
	ratio d.planfresh s.dryfresh "plan, nothing cached" "snakemake -n, nothing built"
	ratio d.planfresh m.dryfresh "plan, nothing cached" "make -n, nothing built"
	ratio d.cold s.cold "cold run -j $JOBS" "snakemake cold run -j $JOBS"
	ratio d.cold m.cold "cold run -j $JOBS" "make cold run -j $JOBS"
	echo
	if ((${#notes[@]})); then
		printf -- '- %s\n' "${notes[@]}"
		echo
	fi
	echo "Target (under 1 s each on this machine):"
	echo
	target d.cached "fully cached rerun"
	target d.plan "plan, all cached"
	target d.planfresh "plan, nothing cached"
	printf '%s' "$prof_report"
}

if [[ -n ${OUT:-} ]]; then
	report | tee "$OUT"
else
	report
fi
