#!/bin/sh
# bench/ipvs-apply.sh: `lvsd apply` of 1,000 services x 10 reals (empty
# table -> full, then again with no change) by the lvsd of BASE and of the
# working tree, alternating in one VM boot, with wall, user and system
# time; then the apply phase alone (bench/ipvs/apply), op by op and
# batched. Each convergence starts from a freshly loaded ip_vs.
#   BASE=<commit> RUNS=2 sh bench/ipvs-apply.sh
# BASE defaults to the commit before lib/ipvs/batch.go (HEAD without it).
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
added=$(git log --diff-filter=A --format=%H -1 -- lib/ipvs/batch.go)
BASE=${BASE:-${added:+$added^}}
BASE=${BASE:-HEAD}
d=.cache/bench-ipvs-apply-$$
trap 'rm -rf $d' EXIT
mkdir -p $d/base bench/results
git archive "$BASE" | tar -x -C $d/base
(cd $d/base && $GO build -o ../lvsd-base ./cmd/lvsd)
$GO build -o $d/lvsd-new ./cmd/lvsd
$GO build -o $d/apply ./bench/ipvs/apply
$GO build -o .cache/vm/vmrun ./vm/vmrun
out=bench/results/ipvs-apply-$(date -u +%Y%m%dT%H%M%SZ).txt
echo "base: $(git rev-parse --short "$BASE"), new: working tree of $(git rev-parse --short HEAD)" | tee "$out"
.cache/vm/vmrun -timeout 40m -e D=$d -e RUNS="${RUNS:-2}" -- sh bench/ipvs/apply-inside.sh | tee -a "$out"
echo "saved: $out"
