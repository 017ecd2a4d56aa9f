# pi-crm: `make run` starts the whole appliance locally; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BINARIES := crm-web crm-sender crm-insights crm-health crmctl
export CGO_ENABLED := 0

HOST_PLATFORM := $(shell $(GO) env GOOS)-$(shell $(GO) env GOARCH)
# Litestream (shipped) and MinIO (tests only) are built from the versions
# pinned in tools/*/go.mod, once, into this cache: a cold Litestream build
# takes about 90 s, so `make run` and `make test` reuse it.
TOOLS_DIR := $(CURDIR)/.cache/tools
LITESTREAM_VERSION := $(shell awk '$$1 == "github.com/benbjohnson/litestream" {print $$2}' tools/litestream/go.mod)

# Debian versions must start with a digit: a tag v1.2.3 gives 1.2.3, an
# untagged tree 0.0.0~git<hash>.
DEB_VERSION := $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} | tr - '~' || echo 0.0.0~git$$(git rev-parse --short HEAD 2>/dev/null || echo dev))
DEB_ARCHES := arm64 amd64

.PHONY: all build build-arm64 run test bench lint mutants css editor vendor clean tools deb deb-host

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(BINARIES))

build-arm64:
	@mkdir -p dist/linux-arm64
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux-arm64/ $(addprefix ./cmd/,$(BINARIES))

tools: $(TOOLS_DIR)/$(HOST_PLATFORM)/litestream $(TOOLS_DIR)/$(HOST_PLATFORM)/minio

$(TOOLS_DIR)/%/litestream: tools/litestream/go.mod tools/litestream/go.sum
	cd tools/litestream && GOOS=$(firstword $(subst -, ,$*)) GOARCH=$(lastword $(subst -, ,$*)) \
		$(GO) build -trimpath -ldflags '-s -w -X main.Version=$(LITESTREAM_VERSION)' -o $@ github.com/benbjohnson/litestream/cmd/litestream

$(TOOLS_DIR)/%/nfpm: tools/nfpm/go.mod tools/nfpm/go.sum
	cd tools/nfpm && GOOS=$(firstword $(subst -, ,$*)) GOARCH=$(lastword $(subst -, ,$*)) \
		$(GO) build -trimpath -ldflags '-s -w' -o $@ github.com/goreleaser/nfpm/v2/cmd/nfpm

# make deb: pi-crm_<version>_arm64.deb and _amd64.deb in dist/, with the
# binaries, Litestream built from source, the units and the example env file.
deb: $(addprefix dist/pi-crm_$(DEB_VERSION)_,$(addsuffix .deb,$(DEB_ARCHES)))

deb-host: dist/pi-crm_$(DEB_VERSION)_$(lastword $(subst -, ,$(HOST_PLATFORM))).deb

dist/pi-crm_$(DEB_VERSION)_%.deb: $(TOOLS_DIR)/$(HOST_PLATFORM)/nfpm $(TOOLS_DIR)/linux-%/litestream FORCE
	@mkdir -p dist/linux-$*
	GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/linux-$*/ $(addprefix ./cmd/,$(BINARIES))
	cp $(TOOLS_DIR)/linux-$*/litestream dist/linux-$*/litestream
	sed 's|$${BIN}|dist/linux-$*|g' packaging/nfpm.yaml > dist/nfpm-$*.yaml
	ARCH=$* VERSION=$(DEB_VERSION) $(TOOLS_DIR)/$(HOST_PLATFORM)/nfpm pkg --packager deb --config dist/nfpm-$*.yaml --target $@

FORCE:

# The tools are built once and kept, never treated as intermediate files.
.PRECIOUS: $(TOOLS_DIR)/%/litestream $(TOOLS_DIR)/%/minio $(TOOLS_DIR)/%/nfpm

$(TOOLS_DIR)/%/minio: tools/minio/go.mod tools/minio/go.sum
	cd tools/minio && GOOS=$(firstword $(subst -, ,$*)) GOARCH=$(lastword $(subst -, ,$*)) \
		$(GO) build -trimpath -ldflags '-s -w' -o $@ github.com/minio/minio

# Builds, migrates, seeds the demo users when the database is empty, and runs
# the four daemons against ./var until Ctrl-C.
run: build
	@./scripts/run-local.sh

# Every test: unit, store (multi-process), HTTP, daemons under a fake systemd,
# the browser tests in headless Chromium, and that the committed CSS is what
# the Tailwind build makes of the templates (node_modules: the pinned
# Tailwind, installed from package-lock.json).
test: build tools deb-host node_modules/.bin/tailwindcss
	PICRM_TOOLS_DIR=$(TOOLS_DIR)/$(HOST_PLATFORM) PICRM_DEB=$(CURDIR)/dist/pi-crm_$(DEB_VERSION)_$(lastword $(subst -, ,$(HOST_PLATFORM))).deb \
		PICRM_TAILWIND=$(CURDIR)/node_modules/.bin/tailwindcss $(GO) test -count=1 -timeout 14m ./...

node_modules/.bin/tailwindcss: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Benchmarks print `BENCH <name> <value> <unit>`; ONLY=<prefix> picks some;
# PROFILE=<dir> keeps a CPU profile of each daemon run (<dir>/<name>-<n>.prof).
bench: build tools
	@mkdir -p var; PICRM_TOOLS_DIR=$(TOOLS_DIR)/$(HOST_PLATFORM) PICRM_BENCH=1 PICRM_BENCH_ONLY='$(ONLY)' PICRM_BENCH_PROFILE='$(abspath $(PROFILE))' PICRM_BIN_DIR=$(CURDIR)/bin $(GO) test -count=1 -run '^TestBench' -v -timeout 30m ./internal/bench/ > var/bench.log 2>&1; rc=$$?; \
	grep '^BENCH ' var/bench.log; if [ $$rc -ne 0 ]; then cat var/bench.log; fi; exit $$rc

# Breaks the code in a dozen ways, one at a time in a copy of HEAD, and checks
# the tests catch each (scripts/mutants.sh).
mutants:
	@./scripts/mutants.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The Tailwind build and the vendored htmx are committed: go build needs no npm.
css:
	npm ci --no-audit --no-fund
	npm run css

# The email editor: TipTap bundled by esbuild into web/static/editor.js
# (committed like the CSS; TestCommittedEditorIsBuilt checks it).
editor:
	npm ci --no-audit --no-fund
	npm run editor

vendor:
	npm ci --no-audit --no-fund
	npm run vendor

clean:
	rm -rf bin dist
