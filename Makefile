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
# LAMBDA_ARCH takes Lambda's names (arm64, x86_64); Go calls x86_64 amd64.
LAMBDA_ARCH ?= arm64
LAMBDA_GOARCH := $(if $(filter x86_64 amd64,$(LAMBDA_ARCH)),amd64,$(LAMBDA_ARCH))
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
LAMBDA_ENV := GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0

.PHONY: all build build-ProxyFunction build-EndpointTargetsFunction run test \
	test-go test-template lint tools rie deps prereqs bench fuzz load power inline-cpu clean

# PROGRESS runs a step that can take more than about 30 seconds, saying what
# it does, roughly how long it takes the first time, and that it is still
# going at least once a minute (scripts/progress.sh).
PROGRESS := bash $(CURDIR)/scripts/progress.sh

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
# The CLI with its VCS revision stamped in, for `s3proxy version` (the
# machine's GOFLAGS may turn stamping off).
build/s3proxy: FORCE
	$(GO) build -buildvcs=true -o $@ ./cmd/s3proxy

# SAM passes only ARTIFACTS_DIR, not the function's Architectures, so the
# binary is built for LAMBDA_ARCH (arm64 unless set) and says so in the
# build log; deploy with the same Architecture. samconfig.toml turns SAM's
# build cache off, so a build for one architecture is never reused for the
# other.
build-ProxyFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/proxy
	@echo "build-ProxyFunction: linux/$(LAMBDA_GOARCH) bootstrap; deploy with Architecture=$(subst amd64,x86_64,$(LAMBDA_GOARCH))"

build-EndpointTargetsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/endpointtargets
	@echo "build-EndpointTargetsFunction: linux/$(LAMBDA_GOARCH) bootstrap; deploy with Architecture=$(subst amd64,x86_64,$(LAMBDA_GOARCH))"

# Ctrl-C stops the server with one line and exit status 0, so make reports
# no error. The binary runs directly: `go run` would exit 1 on the same
# Ctrl-C whatever the program does. SERVE_FLAGS passes flags to serve, e.g.
# make run SERVE_FLAGS=--lambda=process.
run: build/s3proxy
	build/s3proxy serve $(SERVE_FLAGS)

tools: $(BIN)/versitygw $(BIN)/aws-lambda-rie $(BIN)/staticcheck $(BIN)/weed

# The emulator alone, for `s3proxy serve --lambda=process`.
rie: $(BIN)/aws-lambda-rie

# What the suite needs and cannot build, checked in seconds before anything
# long starts; each missing piece is named with its install command.
prereqs:
	@INSTALL=$(if $(filter 1,$(S3PROXY_SKIP_INSTALL)),0,1) bash scripts/prereqs.sh

# Debian packages the suite drives (qemu-user-static, chromium, strace), and
# the Python packages of requirements-test.txt when one is missing. Quiet
# unless it fails; S3PROXY_SKIP_INSTALL=1 only checks.
deps:
	@bash scripts/install-deps.sh

# SeaweedFS, the reference S3 for the signature suite, is pinned in its own
# module (tools/seaweedfs) because its go.mod carries a replace directive.
# The cold build takes a few minutes; the Go build cache keeps later ones
# short.
$(BIN)/weed: tools/seaweedfs/go.mod
	@cd tools/seaweedfs && $(PROGRESS) "building SeaweedFS, the reference S3 (~240 modules, up to 2.2 GB of memory)" \
		"about 10 min on 2 cores the first time, under a minute with a warm build cache" -- \
		$(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/weed github.com/seaweedfs/seaweedfs/weed

$(BIN)/versitygw:
	@GOBIN=$(BIN) $(PROGRESS) "building versitygw $(VERSITYGW_VERSION), the S3 the tests sign against" "about 1 min the first time" -- \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(BIN)/aws-lambda-rie:
	@GOBIN=$(BIN) $(PROGRESS) "building the Lambda Runtime Interface Emulator" "about 15 s the first time" -- \
		$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

$(BIN)/staticcheck:
	@GOBIN=$(BIN) $(PROGRESS) "building staticcheck $(STATICCHECK_VERSION)" "about 15 s the first time" -- \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(BIN)/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	@$(PROGRESS) "go vet and staticcheck" "about 1 min the first time, seconds after" -- \
		bash -c '$(GO) vet ./... && $(BIN)/staticcheck ./...'

# The whole suite. S3PROXY_REQUIRE_PEERS turns a missing versitygw or
# emulator into a failure instead of a skip.
test: prereqs deps tools lint test-go test-template

# Every package, then the twin suites again with the function as the real
# bootstrap under the Lambda Runtime Interface Emulator.
TWIN_SUITES := ./pkg/twin/ ./test/...
test-go: tools deps
	@S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) $(PROGRESS) "every Go test (go test ./...)" "about 5 min the first time, 2 after" -- \
		$(GO) test -count=1 -timeout 10m ./...
	@S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) S3PROXY_TWIN_LAMBDA=process $(PROGRESS) "the twin suites again, the function as the real bootstrap under the emulator" "about 1 min" -- \
		$(GO) test -count=1 -timeout 10m $(TWIN_SUITES)
	@S3PROXY_REQUIRE_PEERS=1 S3PROXY_BIN=$(BIN) S3PROXY_S3_PEER=seaweedfs $(PROGRESS) "reference run: the signature suite against SeaweedFS" "about 30 s" -- \
		$(GO) test -count=1 -timeout 10m -run 'VersityGW' ./pkg/twin/

test-template:
	@$(PROGRESS) "template checks: cfn-lint, the SAM translator and structural tests in every variant" "about 1-2 min" -- \
		bash scripts/test-template.sh

bench:
	mkdir -p build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/... | tee build/bench.txt

# The load run, relay comparison and cold start (minutes; not in `make test`,
# which runs the smoke version). Summaries land in build/load/.
load: tools deps
	bash scripts/load.sh

# Lambda's memory sizes modelled before a deploy: the real bootstrap under
# the emulator in a cgroup CPU quota of memory/1769 of one core, for every
# decision, with billed durations, $ per million and cold starts (a few
# minutes; needs root and a cgroup CPU controller, skips otherwise). The
# table lands in build/load/power.json and the test log.
power: $(BIN)/versitygw $(BIN)/aws-lambda-rie
	set -o pipefail; S3PROXY_POWER=1 S3PROXY_BIN=$(BIN) $(GO) test -count=1 -timeout 15m -v -run 'TestPower$$' ./test/load/ | grep -v '^=== '

# The inline path's CPU per read (ping, 8 KB, 100 KB) for nginx with
# ShotGrid's configuration, the Go relay, the bootstrap at BASELINE_REV and
# this tree's, in alternating rounds (a minute; installs nginx-light with its
# service kept from starting). Run it on a quiet machine.
# The baseline is release 0.3.0, by commit so that a clone without tags has it.
BASELINE_REV ?= 603dc69
inline-cpu: $(BIN)/versitygw $(BIN)/aws-lambda-rie
	@S3PROXY_NGINX=1 bash scripts/install-deps.sh
	set -o pipefail; S3PROXY_LOAD=1 S3PROXY_BIN=$(BIN) S3PROXY_BASELINE_REV=$(BASELINE_REV) \
		S3PROXY_INLINE_KINDS="ping inline-8KB inline-100KB" S3PROXY_INLINE_READS=$${S3PROXY_INLINE_READS:-1000} \
		$(GO) test -count=1 -timeout 15m -v -run 'TestInlineCPU$$' ./test/load/ | grep -v '^=== '

# Each fuzz target for FUZZTIME, one after another.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

clean:
	rm -rf build

FORCE:
