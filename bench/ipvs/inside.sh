#!/bin/sh
# Runs inside the test VM (bench/ipvs.sh boots it): lvsd apply vs
# ldirectord driving real ipvsadm, same kernel, same configs, side by side.
# Emulated CPU: only the ratios mean something.
#   REALS     reals of the single-service convergence (default 200)
#   LD_BUDGET seconds ldirectord may take to converge (default 1200)
#   TOOLS     which peers to run (default "ldirectord keepalived")
set -u
TOOLS=${TOOLS:-ldirectord keepalived}
LVSD=${LVSD:-bin/lvsd}
REALS=${REALS:-200}
LD_BUDGET=${LD_BUDGET:-1200}
W=/tmp/bench-ipvs
mkdir -p $W
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf (a / b < 10 ? "%.1fx" : "%.0fx"), a / b; else print "n/a" }'; }
# reals in the table, from /proc (no ipvsadm fork while ldirectord runs)
nreals() { awk '/->/ && $2 != "RemoteAddress:Port" { n++ } END { print n + 0 }' /proc/net/ip_vs; }
writes() { sed -n 's/.*applied \([0-9]*\) netlink writes (\([0-9]*\) reads).*/\1 writes, \2 reads/p' "$1"; }
ldwrites() { grep -c 'Added \|Deleted \|Restored \|Quiescent ' /tmp/ldirectord.log 2>/dev/null || echo 0; }
# An empty table as after boot: deleted reals stay in the kernel's "dest
# trash" for 2 to 4 minutes and every real added meanwhile walks that list
# (1,000x10 after a flush of the same table: 15 s instead of 6 s here), so
# each timed convergence starts from a reloaded ip_vs with an empty trash.
fresh() {
	ipvsadm -C
	mods=$(lsmod | awk '/^ip_vs_/ { print $1 }')
	rmmod $mods ip_vs 2>/dev/null
	for m in ip_vs $mods; do modprobe $m; done
}
ldkill() { pkill -9 -F /var/run/ldirectord.$1.pid 2>/dev/null; rm -f /var/run/ldirectord.$1.pid; }

# Reals need a route on the director (IPVS refuses some addresses otherwise).
ip link add dum-bench type dummy && ip link set dum-bench up && ip addr add 10.1.255.254/16 dev dum-bench

sh bench/ipvs/gen.sh 1 "$REALS" 1 > $W/one.cf
sh bench/ipvs/gen.sh 1 "$REALS" 5 > $W/one-changed.cf
sh bench/ipvs/gen.sh 1000 10 1 > $W/big.cf
sh bench/ipvs/gen.sh 1000 10 5 > $W/big-changed.cf
echo "bench/ipvs: $(uname -r), $(nproc) vCPU ($(grep -q hypervisor /proc/cpuinfo && echo emulated)), ipvsadm $(ipvsadm -v 2>&1 | awk '{print $2}'), $(ldirectord -v 2>&1 | head -1)"

got=0
case " $TOOLS " in *" ldirectord "*)
echo
echo "== 1. converge an empty table to 1 service x $REALS reals"
fresh
t0=$(now); $LVSD apply --quiet $W/one.cf > $W/lvsd1.out; t1=$(now)
lv1=$(secs $t0 $t1)
echo "lvsd apply:  ${lv1}s  ($(writes $W/lvsd1.out)), $(nreals) reals"
fresh; rm -f /tmp/ldirectord.log
t0=$(now)
ldirectord $W/one.cf start >/dev/null 2>&1
while [ "$(nreals)" -lt "$REALS" ]; do
	if [ "$(secs $t0 $(now) | cut -d. -f1)" -ge "$LD_BUDGET" ]; then break; fi
	sleep 0.5
done
t1=$(now)
ld1=$(secs $t0 $t1); got=$(nreals)
ldkill one
if [ "$got" -ge "$REALS" ]; then
	echo "ldirectord:  ${ld1}s  ($(ldwrites) ipvsadm writes, each after 2 full-table ipvsadm reads)"
	echo "ratio (ldirectord / lvsd): $(ratio $ld1 $lv1)"
else
	echo "ldirectord:  stopped at the ${LD_BUDGET}s budget with $got of $REALS reals ($(ldwrites) ipvsadm writes)"
	echo "ratio (ldirectord / lvsd): more than $(ratio $ld1 $lv1)"
fi

echo
echo "== 2. one-real change (a weight) on the 1 x $REALS table"
$LVSD apply --quiet $W/one.cf >/dev/null
t0=$(now); $LVSD apply $W/one-changed.cf > $W/lvsd2.out; t1=$(now)
lv2=$(secs $t0 $t1)
echo "lvsd apply:  ${lv2}s  ($(writes $W/lvsd2.out)): $(grep '^-e' $W/lvsd2.out)"
$LVSD apply --quiet $W/one.cf >/dev/null; rm -f /tmp/ldirectord.log
# ldirectord on the same table with the changed config: it walks every real
# (two ipvsadm reads each) and edits the one that differs.
t0=$(now)
ldirectord $W/one-changed.cf start >/dev/null 2>&1
while ! ipvsadm -Ln -t 10.200.0.1:80 2>/dev/null | grep -q ' 5 '; do
	if [ "$(secs $t0 $(now) | cut -d. -f1)" -ge "$LD_BUDGET" ]; then break; fi
	sleep 0.5
done
t1=$(now); ld2=$(secs $t0 $t1)
ldkill one-changed
echo "ldirectord:  ${ld2}s  ($(ldwrites) ipvsadm writes, after reading the whole table twice per real)"
echo "ratio (ldirectord / lvsd): $(ratio $ld2 $lv2)"
;; esac

echo
echo "== 3. 1,000 services x 10 reals"
fresh
t0=$(now); $LVSD apply --quiet $W/big.cf > $W/lvsd3.out; t1=$(now)
lv3=$(secs $t0 $t1)
echo "lvsd apply, empty -> 1000x10:  ${lv3}s  ($(writes $W/lvsd3.out)), $(nreals) reals"
t0=$(now); $LVSD apply --quiet $W/big.cf > $W/lvsd4.out; t1=$(now)
echo "lvsd apply, again (no change): $(secs $t0 $t1)s  ($(writes $W/lvsd4.out))"
t0=$(now); $LVSD apply $W/big-changed.cf > $W/lvsd5.out; t1=$(now)
echo "lvsd apply, one-real change:   $(secs $t0 $t1)s  ($(writes $W/lvsd5.out)): $(grep '^-e' $W/lvsd5.out)"
ipvsadm -Sn > $W/big.rules; fresh
t0=$(now); ipvsadm -R < $W/big.rules; t1=$(now)
echo "ipvsadm -R of the same table (one process, no diff): $(secs $t0 $t1)s"
if [ "$got" -ge "$REALS" ]; then
	echo "ldirectord, 1000x10: not run; at its $REALS-real pace (${ld1}s) it would need at least" \
		"$(awk -v t="$ld1" -v n="$REALS" 'BEGIN { printf "%.0f", t / n * 10000 }')s (reads grow with the table)," \
		"ratio more than $(awk -v t="$ld1" -v n="$REALS" -v l="$lv3" 'BEGIN { printf "%.0fx", t / n * 10000 / l }')"
fi
ipvsadm -C

case " $TOOLS " in *" keepalived "*)
# keepalived: the same tables as keepalived.conf (no health checker: every
# real is alive at start), read by both keepalived (checker process only)
# and lvsd apply.
sh bench/ipvs/genk.sh 1 "$REALS" 1 > $W/one.conf
sh bench/ipvs/genk.sh 1 "$REALS" 5 > $W/one-changed.conf
sh bench/ipvs/genk.sh 1000 10 1 > $W/big.conf
kstart() { keepalived -C -n -f "$1" -p $W/k.pid -c $W/kc.pid >$W/keepalived.log 2>&1 & }
kstop() { kill -9 $(cat $W/kc.pid $W/k.pid 2>/dev/null) 2>/dev/null; rm -f $W/k.pid $W/kc.pid; sleep 1; ipvsadm -C; }
kwait() { # kwait N: until N reals, at most LD_BUDGET seconds
	t0k=$(now)
	while [ "$(nreals)" -lt "$1" ]; do
		if [ "$(secs $t0k $(now) | cut -d. -f1)" -ge "$LD_BUDGET" ]; then break; fi
		sleep 0.2
	done
}
for size in one:$REALS big:10000; do
	name=${size%%:*}; n=${size#*:}
	echo
	echo "== keepalived.conf $name ($n reals): converge an empty table"
	fresh
	t0=$(now); $LVSD apply --quiet $W/$name.conf > $W/lvsdk.out 2>/dev/null; t1=$(now); lvk=$(secs $t0 $t1)
	echo "lvsd apply:  ${lvk}s  ($(writes $W/lvsdk.out)), $(nreals) reals"
	fresh
	t0=$(now); kstart $W/$name.conf; kwait $n; t1=$(now); kk=$(secs $t0 $t1)
	echo "keepalived:  ${kk}s  ($(nreals) reals; start to the last real in the table)"
	echo "ratio (keepalived / lvsd): $(ratio $kk $lvk)"
	if [ $name = one ]; then
		# one-real change: keepalived reloads (SIGHUP) a changed file
		cp $W/one-changed.conf $W/one.conf.new; cp $W/one.conf $W/one.conf.orig; cp $W/one-changed.conf $W/one.conf
		t0=$(now); kill -HUP $(cat $W/k.pid)
		while ! ipvsadm -Ln -t 10.200.0.1:80 2>/dev/null | grep -q ' 5 '; do
			if [ "$(secs $t0 $(now) | cut -d. -f1)" -ge "$LD_BUDGET" ]; then break; fi
			sleep 0.2
		done
		t1=$(now); kr=$(secs $t0 $t1)
		kstop; cp $W/one.conf.orig $W/one.conf
		$LVSD apply --quiet $W/one.conf >/dev/null 2>&1
		t0=$(now); $LVSD apply $W/one-changed.conf > $W/lvsdk2.out 2>/dev/null; t1=$(now); lvk2=$(secs $t0 $t1)
		echo "one-real change: lvsd apply ${lvk2}s ($(writes $W/lvsdk2.out)), keepalived reload ${kr}s; ratio $(ratio $kr $lvk2)"
	fi
	kstop
done
;; esac
ipvsadm -C
