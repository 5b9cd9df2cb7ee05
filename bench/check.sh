#!/bin/sh
# Health-check throughput, side by side: `lvsd run --dry-run` at N = 200,
# 1,000 and 10,000 reals vs the real ldirectord (stand-in ipvsadm) at N = 200.
# N addresses in a network namespace behind a veth, one nginx serving them
# all, checkinterval=1, negotiate http with a receive string. Prints checks/s,
# CPU, RSS, detection latency of a killed real, and the ratios. Root.
#   sh bench/check.sh [-n 200,1000,10000] [-ld-n 200] [-window 20s]
set -eu
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
[ -x bin/lvsd ] || go build -o bin/lvsd ./cmd/lvsd
go build -o bin/.bench-check ./bench/check
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
exec bin/.bench-check -lvsd bin/lvsd -standin testdata/check/ipvsadm-standin "$@"
