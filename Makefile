# kinesis-go: the two commands a newcomer runs are `make demo` and `make test`.
# Both install what they need (Go modules, the npm emulators from the committed lock
# file) and stop every emulator they start.

GO       ?= go
LOCALAWS := testdata/localaws
NODE_OK  := $(LOCALAWS)/node_modules/.package-lock.json
PKGS     ?= ./...
BENCH    ?=
COUNT    ?= 5
DEMO_SECONDS ?= 30

.PHONY: all test test-external test-short demo bench bench-ab lint deps emulators check-orphans fuzz clean

all: lint test

# Local Kinesis (kinesis-mock) and DynamoDB (dynalite), installed from the lock file.
emulators: $(NODE_OK)
$(NODE_OK): $(LOCALAWS)/package.json $(LOCALAWS)/package-lock.json
	@command -v node >/dev/null || { echo "Node.js 20+ and npm are required (https://nodejs.org)"; exit 1; }
	cd $(LOCALAWS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: emulators
	$(GO) mod download

# In CI (CI=true, as .ci/run sets it) `make test` first runs what a reviewer checks:
# lint (gofmt, vet, staticcheck), vet of the benchmarks module and every fuzz target for
# FUZZTIME_CI each.
CI_CHECKS := $(if $(filter true 1,$(CI)),lint vet-benchmarks fuzz-ci)

# The whole suite: unit, integration (each test binary starts and stops its own
# emulators on free loopback ports), race detector. Fails if an emulator is left running.
test: deps $(CI_CHECKS)
	@status=0; \
	$(GO) test -race -count=1 -timeout 9m $(PKGS) || status=$$?; \
	$(MAKE) --no-print-directory test-external || status=1; \
	$(MAKE) --no-print-directory check-orphans || status=1; \
	exit $$status

# A user's module (testdata/externalmod, its own go.mod): it imports only the public
# packages, so an internal import in what users copy fails here; it runs the README's
# tests and checks that no godoc example of a public package imports an internal one.
# It runs from a temporary copy with -mod=mod, so that a dependency change of the root
# module does not first need its go.mod tidied.
test-external:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -R testdata/externalmod/. "$$tmp" && cd "$$tmp" && \
	$(GO) mod edit -replace=github.com/kinesis-go/kinesis=$(CURDIR) && \
	GOFLAGS=-mod=mod $(GO) vet ./... && GOFLAGS=-mod=mod $(GO) test -race -count=1 ./...

# Unit tests only (no emulators needed).
test-short:
	$(GO) test -short -race -count=1 $(PKGS)

check-orphans:
	@left=$$(pgrep -f '$(CURDIR)/$(LOCALAWS)/node_modules/(kinesis-local|dynalite)' || true); \
	if [ -n "$$left" ]; then \
		echo "emulator processes left running: $$left (killing them)"; \
		kill -9 $$left 2>/dev/null; exit 1; \
	fi

# The StockTradeStream demo against local emulators (DEMO_SECONDS to change its length).
demo: deps
	DEMO_SECONDS=$(DEMO_SECONDS) $(GO) run ./examples/stocktrade/demo

# The side-by-side comparison with the other Go Kinesis libraries (benchmarks/, a module of
# its own): the producer correctness check, every benchmark -count $(COUNT) times (at least
# 6: benchstat's 95% confidence intervals need 6 runs; about 4 minutes), then benchstat
# (installed into GOPATH/bin if missing) and the tables written into BENCHMARKS.md. Raw
# results: benchmarks/bench.out. A package's own benchmarks: go test -bench . ./aggregation/
bench:
	@command -v benchstat >/dev/null || test -x "$$($(GO) env GOPATH)/bin/benchstat" || $(GO) install golang.org/x/perf/cmd/benchstat@latest
	cd benchmarks && $(GO) test -c -o bench.test . && ./bench.test -test.count=1 -test.run '^TestProducerCorrectness$$'
	@cd benchmarks && rm -f bench.out bench-failed.out && n=$$(( $(COUNT) < 6 ? 6 : $(COUNT) )) && { \
		./bench.test -test.run '^$$' -test.bench '^Benchmark(Aggregation|Deaggregate)$$' -test.benchmem -test.count $$n || touch bench-failed.out; \
		./bench.test -test.run '^$$' -test.bench '^BenchmarkProducer$$' -test.benchmem -test.benchtime 1000000x -test.count $$n || touch bench-failed.out; \
		./bench.test -test.run '^$$' -test.bench '^Benchmark(Consumer|LeaseBalance)$$' -test.benchmem -test.benchtime 1x -test.count $$n -test.timeout 30m || touch bench-failed.out; \
	} 2>&1 | tee bench.out; rm -f bench.test; if [ -e bench-failed.out ]; then rm -f bench-failed.out; echo "benchmarks failed: BENCHMARKS.md not updated"; exit 1; fi
	cd benchmarks && PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) run ./internal/benchreport -in bench.out -md ../BENCHMARKS.md -command 'make bench'

# Before/after: this working tree against REV on the comparison benchmarks, the two
# builds alternated RUNS times (default 15), then benchstat. BENCH picks the benchmarks
# (default: the producer on the in-process fake). Example: make bench-ab REV=HEAD~1
RUNS ?= 15
bench-ab:
	@test -n "$(REV)" || { echo "usage: make bench-ab REV=<commit> [RUNS=15] [BENCH=<regexp>]"; exit 2; }
	benchmarks/ab.sh -n $(RUNS) $(if $(BENCH),-bench '$(BENCH)') $(REV)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

# The benchmarks module (its own go.mod) is not part of ./...; vet it on its own.
vet-benchmarks:
	cd benchmarks && $(GO) vet ./...

# Every fuzz target briefly (CI): finds what the committed corpus and a few thousand
# mutations find, in about a minute for all of them. A count, not a duration: Go 1.26's
# fuzz coordinator can fail a duration-bounded run with a bare "context deadline
# exceeded" at its end on a loaded machine (golang/go#75804).
FUZZTIME_CI ?= 3000x
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_CI)

# Short fuzzing runs of every fuzz target (FUZZTIME each).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(LOCALAWS)/node_modules bench.out
