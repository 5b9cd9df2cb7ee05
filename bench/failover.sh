#!/bin/sh
# bench/failover.sh: Pacemaker failover of seed 002's group in the IPVS VM,
# the ocf:lvs agents (VIPcheck -> VIP -> director/lvsd) side by side with
# the heartbeat ones (VIPcheck -> IPaddr2 -> ldirectord, Debian's, with the
# real ipvsadm), in the same run: two planned moves (crm_resource --move)
# and a crash of the active node (corosync and Pacemaker killed -9, its
# link down), corosync token 1000 ms. Prints the client's outage, what the
# group's agents took (their exec-time in the CIB) and the ratios; the
# whole output is kept in bench/results/failover-DATE.txt.
# The cluster is internal/seed002's (docs/seed002.md); the measurement is
# TestFailoverBench (build tags vm and bench, so make test never runs it).
# VM_ACCEL=tcg|kvm picks the accelerator; FAILOVER_TIMEOUT bounds the job;
# FAILOVER_RUN=ocf_lvs (or heartbeat) runs one group only.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
make -s build
mkdir -p bench/results .cache/vm .cache/bench-failover
$GO build -o .cache/vm/vmrun ./vm/vmrun
$GO test -c -tags 'vm bench' -o .cache/bench-failover/seed002.test ./internal/seed002
out=bench/results/failover-$(date -u +%Y%m%dT%H%M%SZ).txt
{
	echo "bench/failover.sh (ocf-lvs $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%Y-%m-%d %H:%M UTC')"
} | tee "$out"
t=$(readlink -f .cache/bench-failover/seed002.test)
.cache/vm/vmrun -timeout "${FAILOVER_TIMEOUT:-40m}" -- sh -c "cd internal/seed002 && $t -test.run TestFailoverBench/${FAILOVER_RUN:-} -test.v -test.timeout 40m" 2>&1 | tee -a "$out"
echo "kept in $out"
