#!/usr/bin/env bash
# test-all.sh: the test suite as `make test` runs it (inside
# scripts/test-services.sh). The race detector covers every package but
# experiments_test: its cold runs of the specs' ci profiles exercise the
# engine code that the dag, cache and cmd/dagrun race tests cover, and they
# take over 10 minutes under -race on 2 cores; they run once, without it.
# Last, lib/nn's bit tests on its other code paths.
# -timeout 30m: go test's default of 10 minutes per package is a guard
# against hangs, and cmd/dagrun's end-to-end tests (cold ci runs of the
# specs under -race) outran it on a 2-core machine busy with other work
# (TestRemoteTable7 alone took over 7 minutes there).
set -euo pipefail
GO=${GO:-go}
mapfile -t pkgs < <("$GO" list ./... | grep -v '/experiments_test$')
"$GO" test -race -count=1 -timeout 30m "${pkgs[@]}"
"$GO" test -count=1 -timeout 30m ./experiments_test
# lib/nn and lib/bsgal promise the same bits on every path: the AVX2
# kernels with the compiler free to fuse multiply-adds (GOAMD64=v3, as on
# arm64), and pure Go without cgo.
GOAMD64=v3 "$GO" test -count=1 -run 'Bits|Golden|FMA32' ./lib/nn
GOAMD64=v3 "$GO" test -count=1 ./lib/bsgal
CGO_ENABLED=0 "$GO" test -count=1 -tags purego -run 'Bits|Golden|FMA32' ./lib/nn
CGO_ENABLED=0 "$GO" test -count=1 -tags purego ./lib/bsgal
