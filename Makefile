# s3proxy — build, run and test. `make run` and `make test` are the two
# commands a newcomer needs; everything they depend on is installed here from
# pinned versions.

SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

# Pinned tools, built through the Go module proxy.
VERSITYGW_VERSION := v1.8.0
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION := v0.8.2

# The deploy artifact: Linux, no cgo (provided.al2023 has an older glibc),
# no RPC shim (provided.* runtimes never use it), reproducible and stripped.
LAMBDA_ARCH ?= arm64
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
LAMBDA_ENV := GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0

.PHONY: all build build-ProxyFunction build-EndpointTargetsFunction run test \
	test-go test-template lint tools deps bench fuzz load clean

all: build

build: build/proxy/bootstrap build/endpointtargets/bootstrap

build/proxy/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/proxy

build/endpointtargets/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/endpointtargets

# The same function for this machine, for `s3proxy serve --lambda=process`.
build/native/bootstrap: FORCE
	CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/proxy

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set.
build-ProxyFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/proxy

build-EndpointTargetsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/endpointtargets

run:
	$(GO) run ./cmd/s3proxy serve

tools: $(BIN)/versitygw $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/weed

# Debian packages the suite drives (qemu-user-static, chromium).
deps:
	bash scripts/install-deps.sh

# SeaweedFS, the reference S3 for the signature suite, is pinned in its own
# module (tools/seaweedfs) because its go.mod carries a replace directive.
# The cold build takes a few minutes; the Go build cache keeps later ones
# short.
$(BIN)/weed: tools/seaweedfs/go.mod
	cd tools/seaweedfs && $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/weed github.com/seaweedfs/seaweedfs/weed

$(BIN)/versitygw:
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(BIN)/aws-lambda-rie:
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(BIN)/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# The whole suite. S3PROXY_REQUIRE_PEERS turns a missing versitygw or
# emulator into a failure instead of a skip.
test: deps tools lint test-go test-template

# Every package, then the twin suites again with the function as the real
# bootstrap under the Lambda Runtime Interface Emulator.
TWIN_SUITES := ./pkg/twin/ ./test/...
test-go: tools deps
	S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) $(GO) test -count=1 -timeout 10m ./...
	S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) S3PROXY_TWIN_LAMBDA=process $(GO) test -count=1 -timeout 10m $(TWIN_SUITES)
	@echo "reference run: the signature suite against SeaweedFS"
	S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) S3PROXY_S3_PEER=seaweedfs $(GO) test -count=1 -timeout 10m -run 'VersityGW' ./pkg/twin/

test-template:
	bash scripts/test-template.sh

bench:
	mkdir -p build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/... | tee build/bench.txt

# The load run, relay comparison and cold start (minutes; not in `make test`,
# which runs the smoke version). Summaries land in build/load/.
load: tools deps
	bash scripts/load.sh

# Each fuzz target for FUZZTIME, one after another.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

clean:
	rm -rf build

FORCE:
