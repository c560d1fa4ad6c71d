# kusciatask-controller. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

BIN        := bin/kusciatask-controller
GO         ?= go
# Baked into the binaries (see pkg/version) and the image.
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT     ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -X kusciatask.io/controller/pkg/version.version=$(VERSION) \
              -X kusciatask.io/controller/pkg/version.commit=$(COMMIT) \
              -X kusciatask.io/controller/pkg/version.buildDate=$(BUILD_DATE)
IMAGE      ?= kusciatask-controller:$(VERSION)
# docker or podman, for `make image-docker` (`make image` needs neither).
CONTAINER_ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
# State of the demo control plane (hack/local-up.sh); e2e tests use their own.
LOCAL_UP_DIR ?= $(CURDIR)/_output/local
FUZZTIME   ?= 30s
FUZZ       ?= .
# Platforms and download location of `make krew`'s plugin archives.
KREW_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
KREW_URI_BASE  ?= file://$(CURDIR)/_output/krew
# Tasks of `make bench` (T1; T2-T4 scale from it, see pkg/e2e/bench/bench_test.go).
N          ?= 1000
BENCH_N    ?= $(N)
export LOCAL_UP_DIR
KUBECONFIG_LOCAL := $(LOCAL_UP_DIR)/kubeconfig

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/kusciatask-controller, bin/kuscia-gate and bin/kubectl-kuscia, static, with version, commit and date baked in, and bin/kubectl_complete-kuscia (kubectl's completion shim for the plugin).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o bin/ ./cmd/...
	install -m 0755 cmd/kubectl-kuscia/kubectl_complete-kuscia bin/

.PHONY: krew
krew: ## Build the plugin's krew archives (KREW_PLATFORMS, default linux and darwin, amd64 and arm64) and _output/krew/kuscia.yaml with their sha256 (plugins/kuscia.yaml says how to install).
	VERSION=$(VERSION) LDFLAGS='$(LDFLAGS)' KREW_PLATFORMS='$(KREW_PLATFORMS)' KREW_URI_BASE='$(KREW_URI_BASE)' hack/krew.sh

.PHONY: image
image: ## Build the images without a container engine: _output/images/kusciatask-controller.tar (IMAGE, default kusciatask-controller:VERSION, and kusciatask-controller:local) and kuscia-testapp.tar (kuscia-testapp:VERSION and :local), docker-archive tarballs; prints each reference.
	$(GO) run ./hack/image --version=$(VERSION) --commit=$(COMMIT) --build-date=$(BUILD_DATE) --image=$(IMAGE) --out=_output/images

.PHONY: image-docker
image-docker: ## Build the controller image IMAGE from the Dockerfile with docker or podman (the same layout as make image).
	@if [[ -z "$(CONTAINER_ENGINE)" ]]; then \
	  echo "make image-docker: no container engine (docker or podman) on PATH; make image needs none" >&2; exit 1; fi
	@if ! "$(CONTAINER_ENGINE)" info >/dev/null 2>&1; then \
	  echo "make image-docker: $(CONTAINER_ENGINE) is installed but its engine is not running or not reachable ($(CONTAINER_ENGINE) info fails); make image needs none" >&2; exit 1; fi
	"$(CONTAINER_ENGINE)" build -t $(IMAGE) --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg BUILD_DATE=$(BUILD_DATE) .

.PHONY: test
test: unit e2e e2e-realnode ## Run every test: unit tests, the end-to-end suite on a local control plane (kwok), then the real-node lane.

.PHONY: unit
unit: ## Run the unit and fake-clientset tests (race detector on).
	$(GO) test -race -count=1 ./...

.PHONY: e2e
e2e: ## Run the end-to-end tests against a real local control plane (builds it on first use).
	hack/build-tools.sh
	$(GO) test -tags e2e -count=1 -timeout 40m ./pkg/e2e/... $(E2E_ARGS)

.PHONY: e2e-realnode
e2e-realnode: ## Run the real-node lane: a local control plane with a real kubelet + containerd node (needs root; installs runc, CNI plugins, iptables from Debian when missing).
	hack/build-tools.sh kubelet
	$(GO) test -tags realnode -count=1 -timeout 30m -v ./pkg/e2e/realnode/... $(E2E_REALNODE_ARGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s; FUZZ=regexp picks targets) and print their figures. Not part of make test.
	FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' hack/fuzz.sh

.PHONY: bench
bench: ## Run the benchmarks: sync cost (fakes), then T1-T4 on a local control plane (docs/performance.md) (N tasks, default 1000; `make bench N=200` is quick). Prints one table; writes _output/bench/results.json.
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/...
	hack/build-tools.sh
	BENCH_N=$(BENCH_N) $(GO) test -tags 'e2e bench' -count=1 -timeout 120m -run '^TestBench$$' ./pkg/e2e/bench/ $(BENCH_ARGS)
	@cat _output/bench/results.txt
	$(MAKE) bench-realnode

.PHONY: bench-realnode
bench-realnode: ## On a real node (root): gate latency (open patch -> app running, vs. an ungated pod; BENCH_GATE_PODS, default 20) and pulling during vs. after the reservation (gates open -> both apps running; BENCH_PULL_RUNS, default 3); writes _output/bench/realnode-{gate,pull}.txt.
	hack/build-tools.sh kubelet
	$(GO) test -tags 'realnode bench' -count=1 -timeout 60m -v -run '^TestBench(GateLatency|PullDuringReservation)$$' ./pkg/e2e/realnode/
	@cat _output/bench/realnode-gate.txt _output/bench/realnode-pull.txt

.PHONY: soak
soak: ## Soak: ~60 mixed tasks while the controller is SIGKILLed >= 10 times (SOAK_TASKS, SOAK_KILLS); prints its figures.
	hack/build-tools.sh
	$(GO) test -tags 'e2e soak' -count=1 -timeout 30m -run '^TestSoak$$' -v ./pkg/e2e/...

.PHONY: generate
generate: ## Regenerate clients, deepcopy, OpenAPI and CRDs from pkg/apis.
	hack/update-codegen.sh
	hack/update-crds.sh
	$(GO) mod tidy

.PHONY: verify
verify: ## Fail on gofmt, go vet, go mod tidy or generated-code drift, or docs naming links, files, make targets or flags that do not exist.
	hack/verify.sh

.PHONY: run
run: ## Run the controller against KUBECONFIG (default: the demo control plane).
	$(GO) run ./cmd/kusciatask-controller --kubeconfig=$${KUBECONFIG:-$(KUBECONFIG_LOCAL)} $(RUN_ARGS)

.PHONY: demo
demo: build ## Start a local control plane, install the CRDs, run the controller and the seed's PSI task.
	hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the demo's controller and control plane.
	hack/demo.sh down

.PHONY: clean
clean: ## Remove build output (not the cached control-plane binaries).
	rm -rf bin _output
