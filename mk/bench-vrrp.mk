# bench/vrrp.sh: VRRP failover, lvsd pair vs keepalived pair (netns, root).
.PHONY: bench-vrrp
bench-vrrp: build ## VRRP failover: lvsd pair vs keepalived pair, same settings, ratios (root)
	sh bench/vrrp.sh $(BENCH_VRRP_ARGS)
