# lib/check (health-check engine), lvsd run --dry-run (owned by the check helper)
FUZZ += ./lib/check:FuzzStatusRanges ./lib/check:FuzzRadiusReply

.PHONY: bench-check
bench-check: build ## lvsd run --dry-run vs ldirectord: checks/s, CPU, RSS, detection (root)
	./bench/check.sh
