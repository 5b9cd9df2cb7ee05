#!/bin/sh
# Runs inside the test VM (bench/ipvs-apply.sh boots it). D holds
# lvsd-base, lvsd-new and apply. Emulated CPU: compare within a run only.
set -eu
W=/tmp/bench-ipvs-apply
mkdir -p $W
fresh() { # an empty table and an empty dest trash, as after boot
	ipvsadm -C
	mods=$(lsmod | awk '/^ip_vs_/ { print $1 }')
	rmmod $mods ip_vs 2>/dev/null || true
	for mod in ip_vs $mods; do modprobe $mod; done
}
writes() { sed -n 's/.*applied \([0-9]*\) netlink writes (\([0-9]*\) reads).*/\1 writes, \2 reads/p' "$1"; }
ip link add dum-bench type dummy && ip link set dum-bench up && ip addr add 10.1.255.254/16 dev dum-bench
sh bench/ipvs/gen.sh 1000 10 1 > $W/big.cf
sh bench/ipvs/genk.sh 1000 10 1 > $W/big.conf
phase() { sed -n 's/.*[: ]\([0-9][0-9]* batched writes in [^)]*)\).*/\1/p' "$1" | head -1; }
# lvsd run started on the table (keepalived.conf: reals without a checker
# start up, so its first pass writes the whole table): launch -> its
# "started:" line, the apply phase it reports, then kill -9 (the table
# stays) for the next start to adopt
runStart() {
	: > $W/run.log
	t0=$(date +%s.%N)
	"$D/lvsd-$1" run --pidfile none --socket none --state $W/run-$1.state $W/big.conf > $W/run.log 2>&1 &
	pid=$!
	i=0
	until grep -q 'started:' $W/run.log || [ $i -ge 3000 ]; do sleep 0.1; i=$((i + 1)); done
	t1=$(date +%s.%N)
	kill -9 $pid; wait $pid 2>/dev/null || true
	echo "$(echo "$t1 - $t0" | bc) s to started; $(phase $W/run.log || true); $(grep -o 'kernel read in [^,;]*' $W/run.log | head -1)"
}
echo "bench/ipvs-apply: $(uname -r), $(nproc) vCPU ($(grep -q hypervisor /proc/cpuinfo && echo emulated)), load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
	for v in base new; do
		fresh
		/usr/bin/time -f "wall %e s, user %U s, sys %S s" -o $W/t "$D/lvsd-$v" apply --quiet $W/big.cf > $W/out
		echo "run $run, lvsd apply ($v), empty -> 1000x10: $(cat $W/t) ($(writes $W/out)), table $(ipvsadm -Sn | sort | md5sum | cut -c1-8); apply phase: $(phase $W/out)"
		/usr/bin/time -f "wall %e s, user %U s, sys %S s" -o $W/t "$D/lvsd-$v" apply --quiet $W/big.cf > $W/out
		echo "run $run, lvsd apply ($v), again (no change): $(cat $W/t) ($(writes $W/out))"
		fresh
		echo "run $run, lvsd run ($v), keepalived.conf, empty -> 1000x10: $(runStart $v)"
		echo "run $run, lvsd run ($v), restart adopting the full table: $(runStart $v)"
	done
	for m in one batch; do
		fresh
		echo "run $run, $("$D/apply" -mode $m $W/big.cf), table $(ipvsadm -Sn | sort | md5sum | cut -c1-8)"
	done
done
ipvsadm -C
