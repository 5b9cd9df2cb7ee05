# bench/daemon.sh: lvsd run vs ldirectord and keepalived in the IPVS VM
# (docs/daemon.md). BENCH_DAEMON_ARGS go to bench/daemon/main.go.
BENCH_DAEMON_ARGS ?=

.PHONY: bench-daemon
bench-daemon: ## lvsd run vs ldirectord/keepalived in the VM: a killed real -> its netlink delete (10, 1,000 reals); reload of 10,000 reals
	sh bench/daemon.sh $(BENCH_DAEMON_ARGS)

.PHONY: bench-failover
bench-failover: ## Pacemaker failover of seed 002's group: ocf:lvs agents vs IPaddr2 + ldirectord, in the VM
	sh bench/failover.sh

.PHONY: bench-agents bench-agents-vm
bench-agents: build ## seed 002's agents op by op (hyperfine, netns, root): exec floor, VIP vs IPaddr2, VIPcheck beyond its wait; the director where IPVS is
	sh bench/agents.sh $(BENCH_AGENTS_ARGS)
bench-agents-vm: build ## bench/agents.sh in the IPVS VM (TCG here), with the director's start and stop and one start under strace
	go build -o .cache/vm/vmrun ./vm/vmrun
	.cache/vm/vmrun -timeout 20m -- sh bench/agents.sh $(BENCH_AGENTS_ARGS)
