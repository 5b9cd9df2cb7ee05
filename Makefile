# ocf-lvs build, test and demo entry points. See README.md.
GO       ?= go
PREFIX   ?= /usr
DESTDIR  ?=
OCF_DIR  := $(PREFIX)/lib/ocf/resource.d/lvs
export CGO_ENABLED := 0
# The package version (RPM and deb), also what lvsd --version, every
# agent's --version and the agents' meta-data say (internal/version).
RPM_VERSION ?= 0.1.0
COMMIT      ?= $(shell git describe --always --dirty 2>/dev/null)
VERSION_PKG := github.com/ocf-lvs/ocf-lvs/internal/version
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X $(VERSION_PKG).Version=$(RPM_VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)"

# Binaries: every cmd/<name> becomes bin/<name>.
CMDS    := $(notdir $(wildcard cmd/*))
# Of those, the OCF agents (installed under resource.d/lvs).
AGENTS  := $(filter VIP VIPcheck ping director realserver,$(CMDS))
DAEMONS := $(filter-out $(AGENTS),$(CMDS))

# Fragments append to these: FUZZ (pkg:FuzzName), TEST_TIERS (targets).
FUZZ       :=
TEST_TIERS :=
# An execution count, not a duration: a duration-based -fuzztime can fail
# with a bare "context deadline exceeded" at its end (golang/go#75804, in
# go1.26; seen in CI here). `make fuzz` soaks by duration.
FUZZTIME   ?= 30000x
.DEFAULT_GOAL := build
# Included before the rules: prerequisites are expanded when read.
-include mk/*.mk

.PHONY: all build install test unit deps demo demo-vip bench fuzz fuzz-short clean help
all: build

help:
	@echo "make build    - build every binary into bin/"
	@echo "make install  - install agents into \$$DESTDIR$(OCF_DIR), daemons into \$$DESTDIR$(PREFIX)/sbin, units, man pages, docs"
	@echo "make rpm, make deb - the packages (README: Install); make man - the man pages into .cache/man"
	@echo "make test     - install test dependencies, run every tier (unit, netns, vm)"
	@echo "make demo     - lvsd balancing three nginx reals, NAT and DR, in the IPVS VM (root; docs/demo.md)"
	@echo "make demo-vip - VIPcheck and VIP in two network namespaces (root)"
	@echo "make bench    - run the side-by-side benchmarks"
	@echo "make fuzz     - fuzz every parser for FUZZTIME each (default 5m; make test runs $(FUZZTIME) executions)"

build:
	@mkdir -p bin
	$(GO) build $(GOFLAGS_BUILD) -o bin/ $(addprefix ./cmd/,$(CMDS))

# The binaries, and with them what the packages hold (mk/packaging.mk:
# units, sample config, man pages, docs); install-ldirectord adds the
# ldirectord link.
install: build install-data
	install -d $(DESTDIR)$(OCF_DIR) $(DESTDIR)$(PREFIX)/sbin
	for a in $(AGENTS); do install -m 0755 bin/$$a $(DESTDIR)$(OCF_DIR)/$$a; done
	for d in $(DAEMONS); do install -m 0755 bin/$$d $(DESTDIR)$(PREFIX)/sbin/$$d; done

deps:
	@sh scripts/install-deps.sh
	@sh scripts/build-keepalived.sh

# unit + netns tiers: the netns tests run when we are root (CI is root) and
# skip loudly otherwise; vm and fuzz tiers are added by mk/*.mk.
unit: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

test: deps build unit fuzz-short $(TEST_TIERS)
	@echo "make test: all tiers passed"

fuzz-short:
	@set -e; for f in $(FUZZ); do pkg=$${f%%:*}; name=$${f##*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$${FUZZTIME:-5m}

# lvsd run with real IPVS: boots the VM once (mk/vm.mk) and runs the lab in it.
demo: deps build $(VM_CACHE)/vmrun
	sh scripts/demo-lvs.sh

demo-vip: deps build
	sh scripts/demo-vip.sh

bench: deps build
	@for s in bench/*.sh; do echo "== $$s"; sh $$s || exit 1; done

clean:
	rm -rf bin

