#!/bin/sh
# bench/ipvs.sh: lvsd apply vs ldirectord (driving real ipvsadm) converging
# and changing IPVS tables, side by side in the same QEMU VM (this host's
# kernel has no IPVS). Prints times, netlink/ipvsadm writes and ratios.
#   REALS=200 LD_BUDGET=1200 TOOLS="ldirectord keepalived" sh bench/ipvs.sh
# Results are also kept in bench/results/ipvs-DATE.txt.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bench/results .cache/vm
# A private copy: the VM reads binaries over 9p with caching, and a
# `make build` elsewhere rewriting bin/lvsd mid-run would corrupt it.
lvsd=.cache/bench-ipvs-$$/lvsd
trap 'rm -rf .cache/bench-ipvs-$$' EXIT
$GO build -o $lvsd ./cmd/lvsd
$GO build -o .cache/vm/vmrun ./vm/vmrun
out=bench/results/ipvs-$(date -u +%Y%m%dT%H%M%SZ).txt
.cache/vm/vmrun -timeout 90m -e REALS="${REALS:-200}" -e LD_BUDGET="${LD_BUDGET:-1200}" -e TOOLS="${TOOLS:-ldirectord keepalived}" -e LVSD=$lvsd -- sh bench/ipvs/inside.sh | tee "$out"
echo "saved: $out"
