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
	test-go test-template lint tools bench clean

all: build

build: build/proxy/bootstrap build/endpointtargets/bootstrap

build/proxy/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/proxy

build/endpointtargets/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/endpointtargets

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set.
build-ProxyFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/proxy

build-EndpointTargetsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/endpointtargets

run:
	$(GO) run ./cmd/s3proxy serve

tools: $(BIN)/versitygw $(BIN)/aws-lambda-rie $(BIN)/staticcheck

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
test: tools lint test-go test-template

test-go: tools
	S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) $(GO) test -count=1 -timeout 20m ./...

test-template:
	bash scripts/test-template.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/... | tee build/bench.txt

clean:
	rm -rf build

FORCE:
