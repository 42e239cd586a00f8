# dagrun's two commands:
#   make run    build dagrun, fetch what it needs, run experiments/table7.yaml
#   make test   fetch what the tests need, then vet and test everything
# Everything else here is what those two call.

GO      ?= go
BIN     := bin/dagrun
DATA    := third_party/data
ORT     := third_party/onnxruntime
SPEC    ?= experiments/table7.yaml
ARGS    ?=

export DAGRUN_DATA          ?= $(CURDIR)/$(DATA)
export DAGRUN_ONNXRUNTIME   ?= $(CURDIR)/$(ORT)/libonnxruntime.so.1

.PHONY: run test build data onnxruntime deps vet fmt-check bench fuzz clean

run: build deps
	$(BIN) $(ARGS) $(SPEC)

# GOAMD64=v1 whatever the environment says: dagrun refuses a higher level
# (cmd/dagrun/main.go, checkBuild: fused multiply-adds change output bits).
build:
	GOAMD64=v1 $(GO) build -o $(BIN) ./cmd/dagrun

deps: data onnxruntime

data:
	scripts/fetch-data.sh $(DATA)

onnxruntime:
	scripts/fetch-onnxruntime.sh $(ORT)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi

# The test command. It fetches datasets and ONNX Runtime, and (as root)
# installs Chromium and starts a one-node Slurm cluster for the tests that
# need them (scripts/test-services.sh), then runs scripts/test-all.sh: -race
# on every package but experiments_test (see that script).
test: deps fmt-check vet
	GO=$(GO) scripts/test-services.sh scripts/test-all.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./spec

bench: build
	bench/engine/run.sh

clean:
	rm -rf bin

# Not part of CI: fetch ISNet (npm @imgly/background-removal-data, checked
# by sha256) and annotate a few images with it (experiments/checks/isnet.yaml).
.PHONY: isnet-check
isnet-check: build deps
	scripts/isnet-check.sh $(ARGS)
