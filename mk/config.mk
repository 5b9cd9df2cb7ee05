# lib/config, lvsd check / migrate (owned by the config helper)
FUZZ += ./lib/config:FuzzLdirectord ./lib/config:FuzzKeepalived ./lib/config:FuzzTOML ./lib/config:FuzzReloadKeepalived

CONFIG_SOAKTIME ?= 10m

.PHONY: fuzz-config-soak bench-config
fuzz-config-soak: ## each configuration reader fuzzed for CONFIG_SOAKTIME (default 10m)
	@set -e; for f in FuzzLdirectord FuzzKeepalived FuzzTOML FuzzReloadKeepalived; do \
	  echo "fuzz ./lib/config $$f ($(CONFIG_SOAKTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(CONFIG_SOAKTIME) -fuzzminimizetime 10s ./lib/config; done

bench-config: build ## lvsd check vs ldirectord on 1k/10k/100k reals; parse benchmark
	$(GO) run ./bench/config -lvsd bin/lvsd
	$(GO) test -run '^$$' -bench . -benchmem ./bench/config
