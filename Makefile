# fleet: see README.md. `make demo` and `make test` work on a fresh machine
# with Go; `make test` also compares against Ansible when it is installed.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
FUZZTIME ?= 60s
BIN      := bin/fleet
LAB      := bin/fleet-lab

.PHONY: all build test lint demo fuzz golden clean bench bench-quick

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/fleet

test: lint
	$(GO) test -race ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

demo: build
	CGO_ENABLED=0 $(GO) build -trimpath -o $(LAB) ./cmd/fleet-lab
	@FLEET=$(BIN) FLEET_LAB=$(LAB) ./examples/demo.sh

# Run every fuzz test for FUZZTIME each.
fuzz:
	$(GO) test ./inventory -run '^$$' -fuzz '^FuzzINI$$' -fuzztime $(FUZZTIME)
	$(GO) test ./inventory -run '^$$' -fuzz '^FuzzYAML$$' -fuzztime $(FUZZTIME)
	$(GO) test ./inventory -run '^$$' -fuzz '^FuzzPattern$$' -fuzztime $(FUZZTIME)
	$(GO) test ./inventory -run '^$$' -fuzz '^FuzzINIValue$$' -fuzztime $(FUZZTIME)
	$(GO) test ./vars -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./muxconn/target -run '^$$' -fuzz '^FuzzResolve$$' -fuzztime $(FUZZTIME)
	$(GO) test ./report -run '^$$' -fuzz '^FuzzFold$$' -fuzztime $(FUZZTIME)
	$(GO) test ./vars -run '^$$' -fuzz '^FuzzInterpolate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transfer -run '^$$' -fuzz '^FuzzParseChmod$$' -fuzztime $(FUZZTIME)
	$(GO) test ./transfer -run '^$$' -fuzz '^FuzzParseSums$$' -fuzztime $(FUZZTIME)
	$(GO) test ./muxconn/mux -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./muxconn/mux -run '^$$' -fuzz '^FuzzProxyPacket$$' -fuzztime $(FUZZTIME)
	$(GO) test ./playbook -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./jinja -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)

# Rewrite the Ansible conformance goldens (needs ansible on PATH).
golden:
	$(GO) test ./inventory -run '^TestConformance$$' -update

clean:
	rm -rf bin

# Measure fleet against ssh ControlMaster, pssh, pdsh, scp, rsync and
# Ansible on real sshd hosts; see bench/README.md. Installs missing peers
# with apt-get first.
bench:
	bash bench/peers.sh && FLEET_BENCH=1 $(GO) test -run TestBench -v -count=1 -timeout 15m ./bench

bench-quick:
	bash bench/peers.sh && FLEET_BENCH=1 FLEET_BENCH_QUICK=1 $(GO) test -run TestBench -v -count=1 -timeout 15m ./bench
