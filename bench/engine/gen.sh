#!/usr/bin/env bash
# gen.sh DIR N — write the same DAG of N trivial, independent nodes three ways:
#   DIR/spec.yaml   a dagrun spec: one command node over an A×B matrix
#   DIR/Snakefile   one snakemake rule with wildcards {a},{b} plus an `all` rule
#   DIR/Makefile    one explicit target per node plus an `all` target
# N is split as A×B with A the largest divisor of N not above sqrt(N)
# (10000 → 100×100, 400 → 20×20). Every node writes "a-b" into one file.
set -euo pipefail

dir=${1:?usage: gen.sh DIR N}
n=${2:?usage: gen.sh DIR N}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
	echo "gen.sh: N must be a positive integer, got \"$n\"" >&2
	exit 2
fi

a=1
for ((i = 1; i * i <= n; i++)); do
	if ((n % i == 0)); then a=$i; fi
done
b=$((n / a))

mkdir -p "$dir"
seqlist() { seq -s ', ' 0 $(($1 - 1)); }

# dagrun: the node uses both axes, so it expands into A×B nodes.
cat >"$dir/spec.yaml" <<EOF
name: bench
matrix:
  a: [$(seqlist "$a")]
  b: [$(seqlist "$b")]
nodes:
  t:
    kind: command
    params:
      argv: [sh, -c, "echo \${a}-\${b} > {out}/o.txt"]
EOF

# snakemake: one rule with wildcards; `all` asks for every cell.
cat >"$dir/Snakefile" <<EOF
A = range($a)
B = range($b)

rule all:
    input: expand("out/{a}-{b}.txt", a=A, b=B)

rule t:
    output: "out/{a}-{b}.txt"
    shell: "echo {wildcards.a}-{wildcards.b} > {output}"
EOF

# make: one explicit target per node, built-in rules off, the folder made once.
awk -v A="$a" -v B="$b" 'BEGIN {
	print "MAKEFLAGS += -r"
	print ".SUFFIXES:"
	printf "all:"
	for (i = 0; i < A; i++) for (j = 0; j < B; j++) printf " out/%d-%d.txt", i, j
	print ""
	print ".PHONY: all"
	print "out:"
	print "\t@mkdir -p out"
	for (i = 0; i < A; i++) for (j = 0; j < B; j++) {
		printf "out/%d-%d.txt: | out\n\t@echo %d-%d > $@\n", i, j, i, j
	}
}' >"$dir/Makefile"

echo "$a $b"
