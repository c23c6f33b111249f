# surveyguard — every command a developer or CI needs. `make help` lists them.
#
# Everything is built from the Go module proxy (or installed from Debian's
# packages); nothing is downloaded from anywhere else. Tool versions are
# pinned in hack/versions.env.

include hack/versions.env

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN ?= $(CURDIR)/bin
export GOBIN := $(BIN)
export GOTOOLCHAIN := local

CONTROLLER_GEN ?= $(BIN)/controller-gen-v$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(BIN)/golangci-lint-v$(GOLANGCI_LINT_VERSION)
# golangci-lint with the kube-api-linter (KAL) built in, for the API types.
KUBE_API_LINTER ?= $(BIN)/golangci-lint-kube-api-linter-v$(KUBE_API_LINTER_VERSION)
CRD_REF_DOCS ?= $(BIN)/crd-ref-docs-v$(CRD_REF_DOCS_VERSION)

# The build of the surveyguard binary. The Dockerfile runs the same command;
# test/build checks that it does.
BUILD_FLAGS := -trimpath -ldflags="-s -w"

# Where hack/build-control-plane.sh puts kube-apiserver, etcd, kubectl and
# friends: the setup-envtest store, so envtest finds them as KUBEBUILDER_ASSETS.
ENVTEST_STORE ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/kubebuilder-envtest
KUBEBUILDER_ASSETS ?= $(ENVTEST_STORE)/k8s/$(K8S_VERSION)-$(shell go env GOOS)-$(shell go env GOARCH)
export KUBEBUILDER_ASSETS

TEST_FLAGS ?= -count=1 -timeout=30m

# promtool, for the alerting rules' tests, is kept beside the control plane
# (outside the clone, so CI on the same machine builds it once); the tests
# find it through $PROMTOOL.
PROMTOOL ?= $(ENVTEST_STORE)/tools/promtool-v$(PROMTOOL_VERSION)
export PROMTOOL

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the deepcopy code of the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	go run ./hack/regdoc docs/regulations.md

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and RBAC, and copy them and the admission policies into the Helm chart (templates/crds.yaml renders files/crds).
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true rbac:roleName=surveyguard-manager \
		paths=./api/... paths=./controllers/... paths=./internal/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -rf charts/surveyguard/crds charts/surveyguard/files/crds && mkdir -p charts/surveyguard/files/crds
	cp config/crd/bases/*.yaml charts/surveyguard/files/crds/
	cp config/rbac/role.yaml charts/surveyguard/files/manager-role.yaml
	cp config/admission/secret_references.yaml charts/surveyguard/files/admission-policies.yaml

.PHONY: fmt
fmt: ## Format the Go code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) $(KUBE_API_LINTER) ## Run golangci-lint (.golangci.yml), then the kube-api-linter on api/ (.golangci-kal.yml).
	$(GOLANGCI_LINT) run ./...
	$(KUBE_API_LINTER) run --config .golangci-kal.yml ./api/...

.PHONY: verify
verify: generate manifests fmt docs ## Regenerate everything and fail if anything changed.
	go mod tidy
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "make verify: generated files are out of date; run 'make generate manifests fmt' and commit:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: docs
docs: $(CRD_REF_DOCS) ## Generate docs/api-reference.md from the API types (crd-ref-docs; hack/crd-ref-docs/config.yaml).
	$(CRD_REF_DOCS) --source-path=./api/v1alpha1 --config=hack/crd-ref-docs/config.yaml \
		--renderer=markdown --output-path=docs/api-reference.md

##@ Test

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd, kubectl, helm, KWOK... from the module proxy (once; reused).
	hack/build-control-plane.sh >/dev/null

.PHONY: test
test: control-plane promtool ## Run all tests on a real API server (builds the control plane first if missing).
	go test $(TEST_FLAGS) ./...

.PHONY: e2e
e2e: control-plane ## Run only the end-to-end tests on the simulated cluster (make test runs them too).
	go test $(TEST_FLAGS) -v ./test/e2e/

.PHONY: faults
faults: control-plane ## Run the fault-injection tests (docs/reliability.md): SIGKILLs, leader hand-over, API faults; FAULTS_SEED replays.
	FAULTS=1 go test $(TEST_FLAGS) -v ./test/faults/

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool from the module proxy (once; reused), for the alerting rules' tests.

.PHONY: bench
bench: ## Run the collector load benchmarks (docs/benchmarks.md); BENCH_DURATION=10s BENCH_PURGE_ROWS=100000.
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./test/bench/

.PHONY: soak
soak: ## Run the collector soak (docs/benchmarks.md): half the measured capacity for SOAK_DURATION (default 10m), a purge every SOAK_PURGE_EVERY (30s).
	SOAK=1 go test -run '^$$' -bench Soak -benchtime 1x -timeout $(or $(SOAK_TIMEOUT),60m) ./test/bench/

.PHONY: fuzz
fuzz: ## Run each fuzz test for FUZZTIME (default 30s).
	go test -run '^$$' -fuzz FuzzComment -fuzztime $(or $(FUZZTIME),30s) ./internal/redact/
	go test -run '^$$' -fuzz FuzzParseResponse -fuzztime $(or $(FUZZTIME),30s) ./internal/collector/
	go test -run '^$$' -fuzz FuzzDecodeStrict -fuzztime $(or $(FUZZTIME),30s) ./internal/collector/
	go test -run '^$$' -fuzz FuzzParseConfig -fuzztime $(or $(FUZZTIME),30s) ./internal/collector/

##@ Build

.PHONY: build
build: ## Build bin/surveyguard the way the Dockerfile does.
	CGO_ENABLED=0 go build $(BUILD_FLAGS) -o $(BIN)/surveyguard .

.PHONY: run
run: ## Run the manager against the cluster of $KUBECONFIG; ARGS='--flag=value ...' adds flags.
	go run . manager --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:8081 $(ARGS)

.PHONY: demo
demo: control-plane build ## Start a local control plane, install the CRDs, run the manager, apply the samples.
	hack/demo.sh

##@ Tools

# go-install builds a tool at a pinned version into a versioned file name, so
# a version bump in hack/versions.env rebuilds it.
define go-install
	@echo "building $(1)@$(2) into $(3)"
	mkdir -p $(BIN) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install $(1)@$(2) && mv $$tmp/$$(basename $(1)) $(3) && rm -rf $$tmp
endef

$(CONTROLLER_GEN):
	$(call go-install,sigs.k8s.io/controller-tools/cmd/controller-gen,v$(CONTROLLER_TOOLS_VERSION),$@)

$(GOLANGCI_LINT):
	$(call go-install,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,v$(GOLANGCI_LINT_VERSION),$@)

$(KUBE_API_LINTER):
	$(call go-install,sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter,v$(KUBE_API_LINTER_VERSION),$@)

$(CRD_REF_DOCS):
	$(call go-install,github.com/elastic/crd-ref-docs,v$(CRD_REF_DOCS_VERSION),$@)

# -tags remove_all_sd leaves out the service discoveries, whose dependencies
# the module proxy does not all serve; promtool's rule commands need none.
$(PROMTOOL):
	@echo "building promtool v$(PROMTOOL_VERSION) into $@ (once: several minutes on 2 cores)"
	mkdir -p $(dir $@) && tmp=$$(mktemp -d $(dir $@).promtool.XXXXXX) && \
		CGO_ENABLED=0 GOBIN=$$tmp go install -trimpath -ldflags "-s -w" -tags remove_all_sd \
			github.com/prometheus/prometheus/cmd/promtool@v$(PROMTOOL_VERSION) && \
		mv $$tmp/promtool $@ && rm -rf $$tmp
