# nfpipe — run `make help` for the targets. CI runs exactly `make test`.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
BIN       := bin/nfpipe
FUZZTIME  ?= 5s
PKGS      := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ui ## Build bin/nfpipe (with the dashboard's web assets)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/nfpipe

.PHONY: run
run: build ## Run the default pipeline (replays the bundled sample; no root, no network)
	./$(BIN) run

.PHONY: test
test: ui vet vet-pcap fmt-check docs-check examples unit unit-pcap e2e fuzz-short ## Everything CI checks: vet, format, docs, examples, tests (race), libpcap backend, browser tests, short fuzzing

.PHONY: ui
ui: ## Build the dashboard's web assets (npm ci, then bundle the pinned libraries into ui/static/vendor)
	cd ui && npm ci --no-audit --no-fund && npm run build

.PHONY: e2e
e2e: ui ## Browser tests of the dashboard in headless Chromium (Debian's chromium package)
	$(GO) test -tags e2e -count=1 -run TestBrowser ./sinks/dashboard/

.PHONY: proto
proto: ## Regenerate the plugin protocol's Go code (protoc 3.21 from apt; go install protoc-gen-go@v1.36.12, protoc-gen-go-grpc@v1.6.2)
	plugins/proto/gen.sh

.PHONY: plugins
plugins: ## Build the example plugins into bin/plugins/
	$(GO) build -trimpath -o bin/plugins/ ./examples/plugins/...

.PHONY: vet-pcap
vet-pcap: ## go vet with the libpcap backend (-tags pcap; needs libpcap-dev)
	$(GO) vet -tags pcap ./stages/capture/ ./cmd/nfpipe/

.PHONY: unit-pcap
unit-pcap: ## Capture tests with the libpcap backend (-tags pcap; the live ones run as root)
	$(GO) test -tags pcap -count=1 ./stages/capture/

.PHONY: build-pcap
build-pcap: ui ## Build bin/nfpipe with the libpcap backend (backend: pcap; needs libpcap-dev to build, libpcap to run)
	$(GO) build -tags pcap -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/nfpipe

.PHONY: unit
# As root, the history store's PostgreSQL tests get a local server (installed
# and started by .ci/postgres.sh) unless NFPIPE_TEST_POSTGRES names one.
unit: plugins ## Run all Go tests with the race detector
	NFPIPE_TEST_POSTGRES="$${NFPIPE_TEST_POSTGRES:-$$( [ "$$(id -u)" = 0 ] && .ci/postgres.sh 2>/dev/null | tail -n1 )}" \
	  $(GO) test -race -count=1 $(PKGS)

.PHONY: vet
vet: ## go vet
	$(GO) vet $(PKGS)

.PHONY: fmt
fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

.PHONY: fmt-check
fmt-check: ## Fail if any file needs gofmt
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "needs gofmt:"; echo "$$out"; exit 1; fi

.PHONY: examples
examples: plugins ## Validate every example pipeline
	$(GO) run ./cmd/nfpipe validate --no-environment examples/*.yaml

.PHONY: docs
docs: ## Regenerate component READMEs and the README catalog from the specs
	$(GO) run ./cmd/nfpipe docs

.PHONY: docs-check
docs-check: ## Fail if generated docs are out of date
	$(GO) run ./cmd/nfpipe docs --check

.PHONY: fuzz-short
fuzz-short: ## Run every fuzz target briefly (FUZZTIME, default 5s each)
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for fn in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$pkg $$fn"; \
	    $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: bench
bench: ## Print end-to-end packets/s, ns and allocations per packet, bytes per flow, and per-sink figures
	$(GO) run ./cmd/nfpipe-bench
	$(GO) test -run='^$$' -bench=BenchmarkWebSocketFanout -benchtime=1x ./sinks/dashboard/
	$(GO) test -run='^$$' -bench='^Benchmark(RuleSimple|RuleWindowed)$$' ./stages/filter/
	$(GO) test -run='^$$' -bench='^BenchmarkGeoLookup' ./stages/geoip/
	$(GO) test -run='^$$' -bench='NoPlugin|Plugin' -benchtime=1000000x ./stages/plugin/
	$(GO) test -run='^$$' -bench=Fanout100Clients -benchtime=2s ./sinks/websocket/
	$(GO) test -run='^$$' -bench='^BenchmarkInsertFlows' -benchtime=300x ./sinks/sqlite/store/
	$(GO) test -run='^$$' -bench='^BenchmarkSizePerMillionFlows' -benchtime=1x ./sinks/sqlite/store/

.PHONY: bench-live
bench-live: ## Live capture benchmark: replay the bench capture into a veth, nfpipe vs tcpdump (root)
	stages/capture/bench-live.sh

.PHONY: geoip
geoip: ## Fetch a freely licensed geolocation database into data/ (never committed; GEOIP_CITY=1 adds DB-IP city, ~135 MB)
	bash stages/geoip/getdb.sh

.PHONY: install
install: build ## Install nfpipe as a systemd service: binary, unit, user, /etc/nfpipe, /var/lib/nfpipe, completions (DESTDIR, PREFIX)
	BINARY=$(BIN) DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" ./install.sh install

.PHONY: uninstall
uninstall: ## Remove the service; keeps /var/lib/nfpipe and a changed pipeline.yaml (PURGE=1 removes them and the user)
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" PURGE="$(PURGE)" ./install.sh uninstall

.PHONY: gobench
gobench: ## Run the Go micro-benchmarks of the hot path
	$(GO) test -run='^$$' -bench=. -benchmem ./stages/... ./sinks/...

.PHONY: tidy
tidy: ## Tidy go.mod and fail if it changed
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum

.PHONY: check
check: test ## What CI runs

.PHONY: clean
clean: ## Remove build outputs
	rm -rf bin bench-out
