#!/bin/sh
# make demo: lvsd load-balancing three nginx real servers with real IPVS.
#
# On the host (root) this boots the IPVS VM (.cache/vm/vmrun, docs/vm.md)
# once and runs itself inside it. In the VM it builds a lab of network
# namespaces, runs `lvsd run` on testdata/demo/ldirectord.cf (one NAT and
# one direct-routing virtual service, as in seed 002), and shows: the IPVS
# table, requests spread over the reals, a real failing its health check and
# leaving the table with no failed request, its return, a real added by
# SIGHUP, and the clean stop. Every step checks what it shows; the first
# expectation that fails stops the demo with a non-zero exit. See docs/demo.md.
set -eu
cd "$(dirname "$0")/.."

# ---- host side: boot the VM and run this script in it ------------------
if [ -z "${OCFLVS_VM:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "make demo needs root (QEMU with the host's root over 9p)"; exit 1; }
	VMRUN=${VMRUN:-.cache/vm/vmrun}
	src=${LVSD:-bin/lvsd}
	for f in "$VMRUN" "$src"; do
		[ -x "$f" ] || { echo "demo: $f is missing (make build vmrun)"; exit 1; }
	done
	# The VM runs a private copy: a `make build` rewriting bin/lvsd while the
	# VM runs it over 9p would crash it (docs/vm.md).
	priv=$(mktemp -d /tmp/ocflvs-demo.XXXXXX)
	trap 'rm -rf "$priv"' EXIT
	cp "$src" "$priv/lvsd"
	boot() { "$VMRUN" -timeout "${DEMO_TIMEOUT:-5m}" -e LVSD="$priv/lvsd" -- sh scripts/demo-lvs.sh; }
	rc=0
	boot || rc=$?
	# 125: the VM died before the job could start. /dev/kvm may open and
	# KVM still fail (nested virtualisation); TCG always works.
	if [ "$rc" = 125 ] && [ -z "${VM_ACCEL:-}" ] && [ -e /dev/kvm ]; then
		echo "demo: the VM did not start under KVM; again with TCG software emulation (VM_ACCEL=tcg)"
		VM_ACCEL=tcg; export VM_ACCEL
		rc=0
		boot || rc=$?
	fi
	exit "$rc"
fi

# ---- in the VM ------------------------------------------------------------
LVSD=$(readlink -f "${LVSD:-bin/lvsd}")
NAT=10.99.2.100 DR=10.99.2.101 # the two VIPs, on the director
N=12                            # requests per VIP per round
T=$(mktemp -d /tmp/lvsdemo.XXXXXX)
chmod 755 "$T" # nginx workers (www-data) read their pages under it
CF=$T/ldirectord.cf
LOG=$T/lvsd.log
LVSD_PID= SEEN=0 REALS=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { echo "   $*"; }
indent() { sed 's/^/      | /'; }

cleanup() {
	set +e
	[ -n "$LVSD_PID" ] && kill "$LVSD_PID" 2>/dev/null && wait "$LVSD_PID" 2>/dev/null
	for i in $REALS; do
		[ -f "$T/real$i/nginx.pid" ] && kill "$(cat "$T/real$i/nginx.pid")" 2>/dev/null
		ip netns del "real$i" 2>/dev/null
	done
	ip netns del client 2>/dev/null
	ip link del br-lab 2>/dev/null
	rm -rf "$T"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fail says what was expected, shows lvsd's last lines and the table, exits 1.
fail() {
	printf '\n\033[1;31mFAILED: %s\033[0m\n' "$*"
	echo "   lvsd's log (last 20 lines):"; tail -n 20 "$LOG" 2>/dev/null | indent
	echo "   ipvsadm -Ln:"; ipvsadm -Ln | indent
	exit 1
}

# newlog prints lvsd's log lines written since the last call.
newlog() {
	n=$(wc -l <"$LOG")
	if [ "$n" -gt "$SEEN" ]; then
		echo "   lvsd logged:"
		sed -n "$((SEEN + 1)),${n}p" "$LOG" | indent
	fi
	SEEN=$n
}

# waitfor SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s.
waitfor() {
	secs=$1 what=$2; shift 2
	end=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || fail "$what (waited ${secs}s)"
		[ -z "$LVSD_PID" ] || kill -0 "$LVSD_PID" 2>/dev/null || fail "lvsd exited while waiting: $what"
		sleep 0.2
	done
}

# intable VIP REAL: is REAL a destination of TCP VIP:80 in the kernel?
intable() {
	ipvsadm -Ln | awk -v s="$1:80" -v r="$2:80" '
		$1 == "TCP" || $1 == "UDP" || $1 == "FWM" { cur = $2 }
		$1 == "->" && cur == s && $2 == r { found = 1 }
		END { exit !found }'
}
notintable() { ! intable "$@"; }
inboth() { intable $NAT "$1" && intable $DR "$1"; }
inneither() { notintable $NAT "$1" && notintable $DR "$1"; }
logged() { sed -n "$((SEEN + 1)),\$p" "$LOG" | grep -q -- "$1"; }

# traffic: N new connections to each VIP from the client, from one bash
# process (testdata/demo/client.bash; process starts are slow under
# emulation). Prints the count per real and the failures of each VIP and
# leaves them in $T/count.NAT and $T/count.DR.
traffic() {
	timeout 60 ip netns exec client bash testdata/demo/client.bash $N $NAT $DR >"$T/client.out" ||
		fail "the client did not finish its requests"
	for vip in NAT DR; do
		eval addr=\$$vip
		awk -v vip=$addr -v name=$vip '
			$1 != vip { next }
			$2 == "FAIL" { bad++; why[$3 " " $4]++; next }
			{ got[$2]++ }
			END {
				line = ""
				for (i = 1; i <= 9; i++) if (("real" i) in got) {
					line = line sprintf("  real%d: %d", i, got["real" i])
					print "real" i, got["real" i] > "/dev/stderr"
				}
				printf "   %-3s %s:%s   failures: %d\n", name, vip, line, bad + 0
				for (w in why) printf "       %d failed: %s\n", why[w], w
				print "failures", bad + 0 > "/dev/stderr"
			}' "$T/client.out" 2>"$T/count.$vip"
	done
	[ "$(wc -l <"$T/client.out")" = $((2 * N)) ] || fail "the client reported $(wc -l <"$T/client.out") requests, not $((2 * N))"
}
count() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$T/count.$1"; }

# expect_served REALS...: every listed real answered on both VIPs, no other
# did, and no request failed.
expect_served() {
	for vip in NAT DR; do
		[ "$(count $vip failures)" = 0 ] || fail "$(count $vip failures) requests to the $vip VIP failed"
		for i in 1 2 3 4; do
			c=$(count $vip "real$i")
			case " $* " in
			*" $i "*) [ "$c" -gt 0 ] || fail "real$i got no request on the $vip VIP" ;;
			*) [ "$c" = 0 ] || fail "real$i got $c requests on the $vip VIP, expected none" ;;
			esac
		done
	done
}

# real I: namespace realI (10.99.0.1I) on the lab bridge with the DR VIP on
# lo, and its nginx serving "served by realI".
real() {
	i=$1 d=$T/real$1
	REALS="$REALS $i"
	mkdir -p "$d/www" "$d/tmp"
	printf 'served by real%s\n' "$i" >"$d/www/index.html"
	sed "s|@DIR@|$d|g" testdata/demo/nginx.conf >"$d/nginx.conf"
	ip -batch - <<-EOF
		netns add real$i
		link add vr$i type veth peer name eth0 netns real$i
		link set vr$i master br-lab up
	EOF
	# Replies from the DR VIP go straight to the client (direct routing);
	# everything else, NAT replies included, goes back through the director.
	ip -n "real$i" -batch - <<-EOF
		link set lo up
		link set eth0 up
		addr add 10.99.0.1$i/24 dev eth0
		route add default via 10.99.0.1
		addr add $DR/32 dev lo
		rule add from $DR lookup 100
		route add 10.99.1.0/24 dev eth0 table 100
	EOF
	ip netns exec "real$i" sh -c "
		echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
		echo 2 >/proc/sys/net/ipv4/conf/all/arp_announce
		nginx -c $d/nginx.conf -e $d/error.log" || fail "nginx of real$i did not start: $(cat "$d/error.log" 2>/dev/null)"
}
nginx_up() { [ -s "$T/real$1/nginx.pid" ] && kill -0 "$(cat "$T/real$1/nginx.pid")" 2>/dev/null; }
nginx_stopped() { ! [ -e "$T/real$1/nginx.pid" ]; }
start_nginx() { ip netns exec "real$1" nginx -c "$T/real$1/nginx.conf" -e "$T/real$1/error.log" || fail "nginx of real$1 did not start"; }

# ---------------------------------------------------------------------------
say "the lab: a client, a director (this VM, lvsd) and three nginx real servers"
echo 1 >/proc/sys/net/ipv4/ip_forward
ipvsadm -C # the VM is the demo's alone; lvsd itself never flushes
ip -batch - <<EOF
netns add client
link add br-lab type bridge
link set br-lab up
addr add 10.99.0.1/24 dev br-lab
addr add 10.99.1.1/24 dev br-lab
addr add $NAT/32 dev br-lab
addr add $DR/32 dev br-lab
link add vc type veth peer name eth0 netns client
link set vc master br-lab up
EOF
ip -n client -batch - <<EOF
link set lo up
link set eth0 up
addr add 10.99.1.2/24 dev eth0
route add default via 10.99.1.1
EOF
for i in 1 2 3; do real "$i"; done
note "client    10.99.1.2    (namespace client, default route via the director)"
note "director  10.99.0.1, 10.99.1.1; VIPs $NAT (NAT) and $DR (DR)"
v=$(nginx -v 2>&1 | sed 's|.*/||')
for i in 1 2 3; do
	note "real$i     10.99.0.1$i   (namespace real$i: nginx $v, pid $(cat "$T/real$i/nginx.pid"), $DR on lo, arp_ignore=1 arp_announce=2)"
done
for i in 1 2 3; do
	waitfor 10 "real$i answers on its own address" sh -c "timeout 5 bash testdata/demo/client.bash 1 10.99.0.1$i | grep -qx '10.99.0.1$i real$i'"
done
note "each real answers on its own address: $(timeout 10 bash testdata/demo/client.bash 1 10.99.0.11 10.99.0.12 10.99.0.13 | sed 's/ / -> served by /' | paste -sd, | sed 's/,/, /g')"

say "lvsd run $CF (seed 002's shape: a masq and a gate virtual service)"
cp testdata/demo/ldirectord.cf "$CF"
grep -vE '^[[:space:]]*(#|$)|servicename|comment|autoreload|protocol|checkport' "$CF" | indent
"$LVSD" run "$CF" 2>"$LOG" &
LVSD_PID=$!
for i in 1 2 3; do waitfor 20 "real$i enters both services after its first passing check" inboth "10.99.0.1$i"; done
newlog
echo "   ipvsadm -Ln:"; ipvsadm -Ln | indent

say "$N requests to each VIP from the client: round robin over the three reals"
traffic
expect_served 1 2 3
# Direct routing: the reals answer the client themselves, so the director
# sees the requests of the DR service but none of its replies.
outpkts() { ipvsadm -Ln --stats | awk -v s="$1:80" '$1 == "TCP" && $2 == s { print $5 }'; }
note "reply packets through the director (ipvsadm -Ln --stats, OutPkts): NAT $(outpkts $NAT), DR $(outpkts $DR): the DR reals answer the client directly"
[ "$(outpkts $NAT)" -gt 0 ] || fail "no NAT reply went through the director"
[ "$(outpkts $DR)" = 0 ] || fail "DR replies went through the director"

say "real2's nginx stops: its check fails, lvsd takes it out of both services"
kill "$(cat "$T/real2/nginx.pid")"
waitfor 10 "nginx of real2 stopped" nginx_stopped 2
note "nginx of real2 stopped"
waitfor 15 "lvsd removes real2 from both services" inneither 10.99.0.12
logged 10.99.0.12 || fail "lvsd logged nothing about real2"
newlog
echo "   ipvsadm -Ln:"; ipvsadm -Ln | indent
traffic
expect_served 1 3
note "every request succeeded; none went to real2"

say "real2's nginx starts again: back in both services after one passing check"
start_nginx 2
note "nginx of real2 started, pid $(cat "$T/real2/nginx.pid")"
waitfor 15 "lvsd puts real2 back in both services" inboth 10.99.0.12
newlog
traffic
expect_served 1 2 3

say "a fourth real: nginx on real4, added to the file, lvsd reloads on SIGHUP"
real 4
note "real4     10.99.0.14   (nginx pid $(cat "$T/real4/nginx.pid"))"
cp "$CF" "$CF.old"
sed -i -e 's/^\(\treal=10.99.0.13:80 masq\)$/\1\n\treal=10.99.0.14:80 masq/' \
	-e 's/^\(\treal=10.99.0.13:80 gate\)$/\1\n\treal=10.99.0.14:80 gate/' "$CF"
diff -u "$CF.old" "$CF" | sed -n '3,$p' | grep '^[+-]' | indent || true
grep -c '10.99.0.14' "$CF" | grep -qx 2 || fail "could not add real4 to the file"
kill -HUP "$LVSD_PID"
note "kill -HUP $LVSD_PID"
waitfor 15 "real4 enters both services after the reload" inboth 10.99.0.14
newlog
echo "   ipvsadm -Ln:"; ipvsadm -Ln | indent
traffic
expect_served 1 2 3 4

say "lvsd stops (SIGTERM): cleanstop=yes removes its virtual services"
kill -TERM "$LVSD_PID"
rc=0
wait "$LVSD_PID" || rc=$?
LVSD_PID=
newlog
[ "$rc" = 0 ] || fail "lvsd exited with status $rc on SIGTERM"
note "lvsd exited with status 0"
echo "   ipvsadm -Ln:"; ipvsadm -Ln | indent
for vip in $NAT $DR; do
	ipvsadm -Ln | grep -q "$vip:80" && fail "the service $vip:80 is still in the kernel after lvsd stopped"
done
note "both virtual services removed; the lab is deleted on exit"

say "done: every step as expected"
