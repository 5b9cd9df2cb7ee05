#!/bin/sh
# Operating lvsd at 10,000 reals: status over the control socket and a
# metrics scrape (time, size; target < 100 ms), and the check loop's
# throughput with and without a scrape every second. No root, no VM (a
# dry run). See docs/daemon.md.
set -e
cd "$(dirname "$0")/.."
[ -x bin/lvsd ] || go build -o bin/lvsd ./cmd/lvsd
mkdir -p bench/results
go run ./bench/status -lvsd bin/lvsd "$@" | tee "bench/results/status-$(date -u +%Y%m%dT%H%M%SZ).txt"
