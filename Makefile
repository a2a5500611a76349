# Tandem: `make run` starts a single-node cluster with a demo table;
# `make test` runs unit, integration and end-to-end tests.
GO        ?= go
BIN       := bin
BINARIES  := tandem-server tandem-shell
DATA      ?= ./data
# Packages whose code runs concurrently get the race detector. They run one
# package at a time (-p 1): their clusters time raft elections in tens of
# milliseconds, which two packages' worth of nodes on 2 cores would upset.
RACE_PKGS := ./replica/... ./raftnet/... ./logdb/... ./checkpoint/... ./duplication/... ./archive/... ./server/... \
	./client/... ./rocksdb/... ./tests/e2e/... ./tests/robustness/...
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
export CGO_ENABLED=1

.PHONY: all deps build run test test-tools metrics-doc test-s3 test-unit test-e2e test-robustness test-deploy lint proto bench fuzz clean

all: build

# deps installs what the build needs and a fresh machine lacks.
deps:
	@if ! dpkg -s librocksdb-dev >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then \
		echo "installing librocksdb-dev and g++ (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librocksdb-dev g++ >/dev/null; \
	fi

build: deps
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/tandem-server ./server/cmd/tandem-server
	$(GO) build -o $(BIN)/tandem-shell ./tools/shell
	$(GO) build -o $(BIN)/tandem-bench ./tools/bench
	$(GO) build -o $(BIN)/tandem-verify ./tools/verify

run: build
	@echo "starting a single-node cluster (data in $(DATA)/n1) with table demo (8 partitions)"
	@echo "reach it with:  $(BIN)/tandem-shell --addr 127.0.0.1:7100"
	@echo "status page:    http://127.0.0.1:7180/status   (Ctrl-C stops the node)"
	exec $(BIN)/tandem-server --id n1 --addr 127.0.0.1:7100 --http 127.0.0.1:7180 \
		--data $(DATA)/n1 --cluster local --create-table demo:8

# test-tools installs the operators' own tools that tests run for real:
# promtool (Debian's prometheus) for /metrics and the alert rules, grpcurl
# (module proxy, into bin/) for reflection and health, chromium (Debian's)
# for the status page's browser test. A test that lacks its
# tool skips saying how to install it; `make test` never lacks one.
GRPCURL_VERSION ?= v1.9.4
export GRPCURL ?= $(CURDIR)/$(BIN)/grpcurl
test-tools: deps
	@command -v promtool >/dev/null || { echo "installing prometheus (promtool) (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }
	@command -v chromium >/dev/null || { echo "installing chromium (apt-get) for the status page's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x $(GRPCURL) || { echo "installing grpcurl $(GRPCURL_VERSION) into $(BIN)/"; \
		GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION); }

# metrics-doc rewrites docs/metrics.md from a live node's registry (make test
# fails when it drifts).
metrics-doc:
	$(GO) test -count=1 -run TestMetricsDocIsCurrent ./server -update

test: deps lint test-tools
	$(GO) test -race -count=1 -p 1 -timeout 20m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -vxF "$$($(GO) list $(RACE_PKGS))")
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

# test-robustness runs tests/robustness longer than `make test` does (that
# one is a single fixed-seed run of 40s): RUNS runs, seeds SEED, SEED+1, ...,
# each DURATION of client load on real processes with one fault at a time
# from FAULTS (failpoint needs a fault-test build: a copy of the module with
# `gofail enable`, ~30s once). A failed run prints where it saved the
# history visualisation and the data directories (TANDEM_ROBUSTNESS_ARTIFACTS
# overrides the place). Then DUP_RUNS duplication chaos runs (tests/e2e
# TestDuplicationChaos: a source and a remote cluster of 3 real nodes each,
# writes on the source, kill -9 of leaders on both sides, the remote down past
# the retention cap, a network cut between the clusters; each run must end
# identical with no acknowledged write missing; switchovers back and forth
# are among the faults). Then test-s3 (the archive against real object
# storage, below). About 15 minutes with the defaults, plus weed's build once.
RUNS     ?= 5
DURATION ?= 60s
SEED     ?= 1
FAULTS   ?= kill,pause,partition,delay,failpoint,transfer
DUP_RUNS ?= 2
test-robustness: deps
	$(GO) test -count=1 -timeout 30m -v -run '^TestRobustness$$' ./tests/robustness/ \
		-robust.runs $(RUNS) -robust.duration $(DURATION) -robust.seed $(SEED) -robust.faults $(FAULTS)
	$(GO) test -count=1 -timeout 30m -v -run '^TestDuplicationChaos$$' ./tests/e2e/ \
		-dupchaos.runs $(DUP_RUNS) -dupchaos.duration $(DURATION) -dupchaos.seed $(SEED)
	$(MAKE) --no-print-directory test-s3

# test-s3 runs the archive tests that need real object storage against
# SeaweedFS (Apache-2.0) on 127.0.0.1: archive and restore through s3://, the
# store killed under writes (uploads resume, no gap, acknowledged writes
# present), and the S3 archive benchmark. weed is built from its module
# source (go install refuses it: its go.mod has replace directives), about
# 35 minutes once on these machines, then cached in .cache/.
WEED_VERSION := v0.0.0-20261109003541-7506e5f91cd6
WEED := $(CURDIR)/.cache/weed-$(WEED_VERSION)
$(WEED):
	@mkdir -p $(CURDIR)/.cache
	dir=$$(cd /tmp && GOFLAGS=-mod=mod $(GO) mod download -json github.com/seaweedfs/seaweedfs@$(WEED_VERSION) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p') && \
	rm -rf $(CURDIR)/.cache/weed-src && cp -r $$dir $(CURDIR)/.cache/weed-src && chmod -R u+w $(CURDIR)/.cache/weed-src && \
	cd $(CURDIR)/.cache/weed-src && $(GO) build -o $(WEED) ./weed && rm -rf $(CURDIR)/.cache/weed-src
test-s3: build $(WEED)
	TANDEM_WEED=$(WEED) $(GO) test -count=1 -timeout 20m -v -run 'S3' ./tests/e2e/
	TANDEM_WEED=$(WEED) $(GO) test -run '^$$' -bench BenchmarkArchiveS3 -benchtime 1x ./tests/e2e/

# test-deploy checks deploy/ without a container engine or a Kubernetes
# cluster (tests/deploy): helm lint and helm template of the chart (default
# values, then TLS and 5 replicas) parsed into Kubernetes' API types, the
# compose file through the Compose Specification loader, the Dockerfile
# against what the repository builds. Installs helm into bin/ first if
# missing (a few minutes once, from the Go module proxy); offline after.
# `make test` runs the same package (it is in `go list ./...`).
HELM_VERSION ?= v3.22.0
test-deploy: deps
	@test -x $(BIN)/helm || { echo "installing helm $(HELM_VERSION) into $(BIN)/"; \
		GOBIN=$(CURDIR)/$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION); }
	HELM=$(CURDIR)/$(BIN)/helm $(GO) test -count=1 -v ./tests/deploy/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# bench prints the figures BENCHMARKS.md records: checkpoint latency (Go
# benchmarks, with a copy baseline in the same run), duplication, and the
# same loads against raw synced RocksDB, a 3-node Tandem cluster and a
# 3-member etcd cluster (Debian's etcd-server) with ratios: single records,
# and records of 10 fields (YCSB's shape: load, read a record, update a
# field, update a record, the A mix). About ten minutes.
bench: build
	$(GO) test -run '^$$' -bench BenchmarkCheckpoint -benchtime 20x ./server/
	$(GO) test -run '^$$' -bench BenchmarkShellCheckpoint -benchtime 10x ./tests/e2e/
	$(GO) test -run '^$$' -bench BenchmarkDuplication -benchtime 1x ./tests/e2e/
	$(GO) test -run '^$$' -bench '^BenchmarkDefaults$$' -benchtime 1x -timeout 180m ./tests/e2e/ -defaults.tries 20
	$(GO) test -run '^$$' -bench '^BenchmarkSwitchover$$' -benchtime 1x ./tests/e2e/
	$(GO) test -run '^$$' -bench '^BenchmarkFanOutCPU$$' -benchtime 1x -timeout 30m ./tests/e2e/
	$(GO) test -run '^$$' -bench '^BenchmarkFailbackBytes$$' -benchtime 1x -timeout 60m ./tests/e2e/
	$(GO) test -run '^$$' -bench '^BenchmarkArchive$$' -benchtime 1x ./tests/e2e/
	@command -v etcd >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null) || echo "etcd-server not installed: the etcd comparison is skipped"
	BIN=$(BIN) tools/bench/compare.sh
	BIN=$(BIN) tools/bench/idle.sh
	BIN=$(BIN) ELECTION_TIMEOUT=1s tools/bench/idle.sh

# fuzz runs every fuzz target (decoders of bytes from disk or network) for
# FUZZTIME each; crashers land in the package's testdata/fuzz, to commit.
# make test runs each briefly (FUZZTIME=3s) on top of its committed corpus.
FUZZTIME ?= 30s
FUZZ := rocksdb:FuzzDecodeKey rocksdb:FuzzDecodeValue \
	replica:FuzzDecode replica:FuzzDecodeCommand replica:FuzzUntarSnapshot \
	raftnet:FuzzHandshake raftnet:FuzzMuxRoute raftnet:FuzzHeartbeatFrame \
	logdb:FuzzDecodeLog checkpoint:FuzzDecodeManifest \
	server:FuzzMetaCommand server:FuzzMetaSnapshot
fuzz:
	@for pt in $(FUZZ); do pkg=$${pt%%:*}; t=$${pt#*:}; \
		$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; done

proto:
	@command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null)
	GOBIN=$(CURDIR)/$(BIN) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/$(BIN) $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH=$(CURDIR)/$(BIN):$$PATH protoc -I proto \
		--go_out=proto/tandempb --go_opt=paths=source_relative \
		--go-grpc_out=proto/tandempb --go-grpc_opt=paths=source_relative \
		proto/tandem.proto

clean:
	rm -rf $(BIN)
