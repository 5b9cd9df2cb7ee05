# The IPVS test tier: Go tests built with -tags vm run inside QEMU (Debian's
# generic kernel; this host's kernel has no IPVS). One boot runs them all.
# See docs/vm.md. (owned by the ipvs helper)
VM_CACHE   := .cache/vm
VM_TESTDIR := $(VM_CACHE)/tests
# The job's own timeout, counted from its start. The boot has its own
# deadline (VM_BOOT_TIMEOUT, read by vmrun: 1m under KVM, then one retry
# under TCG with 5m); VM_ACCEL=kvm|tcg picks the accelerator. 40m, was
# 25m: packaging/vmtest (the packages installed, upgraded and removed for
# real) adds 5-20 min under TCG, by the machine's load.
VM_TIMEOUT ?= 40m

.PHONY: vmtest vmrun vmshell
TEST_TIERS += vmtest
FUZZ += ./lib/ipvs:FuzzPlan ./lib/ipvs:FuzzParseDaemon

$(VM_CACHE)/vmrun: $(wildcard internal/vm/*.go vm/vmrun/*.go)
	@mkdir -p $(VM_CACHE)
	$(GO) build -o $@ ./vm/vmrun

vmrun: $(VM_CACHE)/vmrun

# Every package with a `//go:build vm` test file is compiled on the host
# (test binaries and bin/ are reached over 9p inside the VM); the VM runs
# its vm tests only (vm/tests.sh: the rest ran on the host).
vmtest: build $(VM_CACHE)/vmrun
	@rm -rf $(VM_TESTDIR) && mkdir -p $(VM_TESTDIR) && : > $(VM_TESTDIR)/manifest
	@set -e; for p in $$(grep -rl --include='*_test.go' '^//go:build vm' lib internal cmd agents packaging 2>/dev/null | xargs -r -n1 dirname | sort -u); do \
	  n=$$(echo $$p | tr / _).test; echo "go test -c -tags vm $$p"; \
	  $(GO) test -c -tags vm -o $(VM_TESTDIR)/$$n ./$$p; echo "$$n $$p $$(sh vm/tests.sh $$p)" >> $(VM_TESTDIR)/manifest; done
	$(VM_CACHE)/vmrun -timeout $(VM_TIMEOUT) -e VM_RUN='$(VM_RUN)' -e VM_V='$(VM_V)' -- sh vm/suite.sh $(abspath $(VM_TESTDIR))

# An interactive-less shell command in the VM: make vmshell CMD='ipvsadm -Ln'
vmshell: build $(VM_CACHE)/vmrun
	$(VM_CACHE)/vmrun -- sh -c '$(CMD)'

.PHONY: bench-ipvs
# lvsd apply vs ldirectord+ipvsadm in the VM: REALS=200 LD_BUDGET=1200
bench-ipvs:
	sh bench/ipvs.sh

# systemd as PID 1 in the VM (vmrun -systemd: switch_root into the overlay,
# the job a unit of its own target), for the units under a real service
# manager: the tests of `//go:build vm && vmsystemd` files, in a boot of
# their own (the chroot boot above cannot run them).
.PHONY: vmtest-systemd
TEST_TIERS += vmtest-systemd
vmtest-systemd: build $(VM_CACHE)/vmrun
	@rm -rf $(VM_TESTDIR)-systemd && mkdir -p $(VM_TESTDIR)-systemd
	$(GO) test -c -tags vm,vmsystemd -o $(VM_TESTDIR)-systemd/cmd_lvsd.test ./cmd/lvsd
	@echo 'cmd_lvsd.test cmd/lvsd ^TestUnderSystemd -' > $(VM_TESTDIR)-systemd/manifest
	$(VM_CACHE)/vmrun -systemd -timeout $(VM_TIMEOUT) -e VM_RUN='$(VM_RUN)' -e VM_V='$(VM_V)' -- sh vm/suite.sh $(abspath $(VM_TESTDIR)-systemd)
