# ping / VIPcheck / lib/icmp (owned by the ping helper)
FUZZ += ./agents/ping:FuzzParseHost ./lib/icmp:FuzzParseTarget

.PHONY: bench-ping
bench-ping: ## ocf:lvs:ping vs ocf:pacemaker:ping monitor (hyperfine, root)
	./bench/ping.sh
