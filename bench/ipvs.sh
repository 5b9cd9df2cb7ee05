#!/bin/sh
# bench/ipvs.sh: lvsd apply vs ldirectord (driving real ipvsadm) converging
# and changing IPVS tables, side by side in the same QEMU VM (this host's
# kernel has no IPVS). Prints times, netlink/ipvsadm writes and ratios.
#   REALS=200 LD_BUDGET=1200 sh bench/ipvs.sh
# Results are also kept in bench/results/ipvs-DATE.txt.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bin bench/results .cache/vm
$GO build -o bin/lvsd ./cmd/lvsd
$GO build -o .cache/vm/vmrun ./vm/vmrun
out=bench/results/ipvs-$(date -u +%Y%m%dT%H%M%SZ).txt
.cache/vm/vmrun -timeout 90m -e REALS="${REALS:-200}" -e LD_BUDGET="${LD_BUDGET:-1200}" -- sh bench/ipvs/inside.sh | tee "$out"
echo "saved: $out"
