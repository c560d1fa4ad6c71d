# kusciatask-controller. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

BIN        := bin/kusciatask-controller
GO         ?= go
# State of the demo control plane (hack/local-up.sh); e2e tests use their own.
LOCAL_UP_DIR ?= $(CURDIR)/_output/local
FUZZTIME   ?= 30s
FUZZ       ?= .
export LOCAL_UP_DIR
KUBECONFIG_LOCAL := $(LOCAL_UP_DIR)/kubeconfig

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/kusciatask-controller.
	$(GO) build -trimpath -o $(BIN) ./cmd/kusciatask-controller

.PHONY: test
test: unit e2e ## Run every test: unit tests, then the end-to-end suite on a local control plane.

.PHONY: unit
unit: ## Run the unit and fake-clientset tests (race detector on).
	$(GO) test -race -count=1 ./...

.PHONY: e2e
e2e: ## Run the end-to-end tests against a real local control plane (builds it on first use).
	hack/build-tools.sh
	$(GO) test -tags e2e -count=1 -timeout 40m ./pkg/e2e/... $(E2E_ARGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s; FUZZ=regexp picks targets) and print their figures. Not part of make test.
	FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' hack/fuzz.sh

.PHONY: bench
bench: ## Run the benchmarks: sync cost (fakes), then throughput on a local control plane. Compare ratios within one run.
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./pkg/...
	hack/build-tools.sh
	$(GO) test -tags e2e -run '^$$' -bench Throughput -benchtime 1x -count=1 -timeout 30m ./pkg/e2e/...

.PHONY: generate
generate: ## Regenerate clients, deepcopy, OpenAPI and CRDs from pkg/apis.
	hack/update-codegen.sh
	hack/update-crds.sh
	$(GO) mod tidy

.PHONY: verify
verify: ## Fail on gofmt, go vet, go mod tidy or generated-code drift.
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
