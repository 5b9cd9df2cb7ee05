# VIP agent, lib/addr (owned by the VIP helper)
FUZZ += ./agents/VIP:FuzzSettings

.PHONY: bench-VIP
bench-VIP: build ## ocf:lvs:VIP vs ocf:heartbeat:IPaddr2, monitor and start+stop (hyperfine, root)
	sh bench/VIP.sh
