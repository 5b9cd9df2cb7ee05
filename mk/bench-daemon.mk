# bench/daemon.sh: lvsd run vs ldirectord and keepalived in the IPVS VM
# (docs/daemon.md). BENCH_DAEMON_ARGS go to bench/daemon/main.go.
BENCH_DAEMON_ARGS ?=

.PHONY: bench-daemon
bench-daemon: ## lvsd run vs ldirectord/keepalived in the VM: a killed real -> its netlink delete (10, 1,000 reals); reload of 10,000 reals
	sh bench/daemon.sh $(BENCH_DAEMON_ARGS)

.PHONY: bench-failover
bench-failover: ## Pacemaker failover of seed 002's group: ocf:lvs agents vs IPaddr2 + ldirectord, in the VM
	sh bench/failover.sh
