#!/usr/bin/env bash
# Times one training step (forward + backward + SGD-momentum update) at batch
# 32 for the cnn (28x28, 10 classes) and the fcn (32x32 and 64x64, 20
# categories + background) of lib/nn, against the same networks in PyTorch
# on the CPU with the same number of threads, and prints the ratio.
#
#   bench/nn/run.sh                 # 2 threads (the experiments' budget)
#   THREADS=1 STEPS=20 bench/nn/run.sh
#
# Go: go test's -cpu sets GOMAXPROCS, which bounds gonum's parallel GEMM.
# PyTorch: torch.set_num_threads. Needs /usr/bin/python3 with python3-torch
# (apt-get install -y python3-torch); without it only the Go side runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
STEPS=${STEPS:-10}
PIN=()
if command -v taskset >/dev/null && [ "${PIN_CPUS:-}" != "" ]; then
	PIN=(taskset -c "$PIN_CPUS")
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== Go (gorgonia graph, lib/nn ops), GOMAXPROCS=$THREADS"
"${PIN[@]}" go test ./lib/nn -run '^$' -bench 'BenchmarkTrainStep' -benchtime "${STEPS}x" -cpu "$THREADS" | tee "$out/go.txt"
echo "Go BLAS: convolutions use lib/nn/sgemm.c through cgo (register-blocked, AVX2 when"
echo "  available, no FMA; gonum's pure-Go Sgemm when built with CGO_ENABLED=0); the linear"
echo "  layers use gorgonia's matmul, i.e. gonum's pure-Go BLAS."
awk '
	/^BenchmarkTrainStepCNN-/            { print "cnn-28x28", $3/1e9, $5/1e9 }
	/^BenchmarkTrainStepFCN\/32x32-/     { print "fcn-32x32", $3/1e9, $5/1e9 }
	/^BenchmarkTrainStepFCN\/64x64-/     { print "fcn-64x64", $3/1e9, $5/1e9 }
' "$out/go.txt" > "$out/go.tsv"

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	echo "PyTorch not installed (apt-get install -y python3-torch); Go side only:"
	cat "$out/go.tsv"
	exit 0
fi
echo "== PyTorch, torch.set_num_threads($THREADS)"
"${PIN[@]}" /usr/bin/python3 bench/nn/torch_step.py --threads "$THREADS" --steps "$STEPS" | tee "$out/torch.txt"

echo "== seconds per step at batch 32 ($THREADS threads): wall (median for torch) and CPU"
echo "   (process CPU time, all threads; it does not grow when other jobs share the cores)"
printf '%-10s %9s %9s %8s %9s %9s %8s\n' network go-wall torch-wall ratio go-cpu torch-cpu ratio
join <(sort "$out/go.tsv") <(grep -E '^(cnn|fcn)-' "$out/torch.txt" | sort) |
	awk '{ printf "%-10s %9.4f %9.4f %8.2f %9.4f %9.4f %8.2f\n", $1, $2, $4, $2/$4, $3, $5, $3/$5 }'
