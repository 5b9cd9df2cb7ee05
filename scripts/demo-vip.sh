#!/bin/sh
# make demo-vip: VIPcheck then VIP started, announced and stopped in a pair of
# network namespaces, with what happened printed. Needs root.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make demo-vip needs root (network namespaces)"; exit 1; }

A=lvsdemo-a.$$ B=lvsdemo-b.$$
VIP=192.0.2.100
TMP=$(mktemp -d)
cleanup() {
	[ -n "${TCPDUMP:-}" ] && kill "$TCPDUMP" 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
agent() { # agent NS NAME ACTION k=v...
	ns=$1 name=$2 action=$3; shift 3
	envs="HA_RSCTMP=$TMP/rsctmp-$ns OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=demo-$name"
	for kv in "$@"; do envs="$envs OCF_RESKEY_$kv"; done
	set +e
	out=$(ip netns exec "$ns" env $envs "bin/$name" "$action" 2>&1)
	rc=$?
	set -e
	printf '   %s %s %s -> exit %d' "$name" "$action" "$*" "$rc"
	case $rc in 0) echo " (OCF_SUCCESS)";; 1) echo " (OCF_ERR_GENERIC)";; 7) echo " (OCF_NOT_RUNNING)";; *) echo;; esac
	[ -n "$out" ] && echo "$out" | sed 's/^/      | /'
	return 0
}

say "two hosts: namespace $A (this director) and $B (a neighbour), joined by veth"
ip netns add "$A"; ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev eth0; ip -n "$A" link set eth0 up; ip -n "$A" link set lo up
ip -n "$B" addr add 192.0.2.2/24 dev eth0; ip -n "$B" link set eth0 up; ip -n "$B" link set lo up
ip -n "$A" -br addr show dev eth0; ip -n "$B" -br addr show dev eth0

say "VIPcheck: is $VIP alive anywhere? (ICMP from Go, every target in parallel)"
agent "$A" VIPcheck start target_ip=$VIP wait=1
agent "$A" VIPcheck monitor target_ip=$VIP

say "VIP start: $VIP added to eth0 and announced; $B captures the gratuitous ARPs"
# B still has the address cached at the previous owner's MAC, as after a
# failover: the gratuitous ARPs must move it to $A's MAC.
ip -n "$B" neigh replace $VIP lladdr 02:00:00:00:de:ad dev eth0 nud stale
echo "   $B's neighbour table before (the previous owner's MAC):"; ip -n "$B" neigh show $VIP | sed 's/^/      | /'
ip netns exec "$B" tcpdump -l -n -e -i eth0 "arp and arp[14:4] == arp[24:4]" >"$TMP/arp.txt" 2>/dev/null &
TCPDUMP=$!
sleep 1
agent "$A" VIP start ip=$VIP cidr_netmask=24 arp_count=3 arp_interval=100
agent "$A" VIP monitor ip=$VIP
ip -n "$A" -br addr show dev eth0
sleep 0.5; kill "$TCPDUMP" 2>/dev/null || true; wait "$TCPDUMP" 2>/dev/null || true; TCPDUMP=
echo "   gratuitous ARPs (sender = target = VIP) seen on the wire by $B:"; sed 's/^/      | /' "$TMP/arp.txt"
echo "   $B's neighbour table now ($A's eth0 is $(ip -n "$A" -br link show eth0 | awk '{print $3}')):"; ip -n "$B" neigh show $VIP | sed 's/^/      | /'

say "the neighbour reaches the VIP"
ip netns exec "$B" ping -c 1 -W 1 $VIP | sed -n '2p' | sed 's/^/      | /'

say "VIPcheck on the neighbour refuses to start: $VIP is alive on $A (split-brain guard)"
agent "$B" VIPcheck start target_ip=$VIP wait=1

say "VIP stop, twice (idempotent), then monitor"
agent "$A" VIP stop ip=$VIP
agent "$A" VIP stop ip=$VIP
agent "$A" VIP monitor ip=$VIP
agent "$A" VIPcheck stop target_ip=$VIP
ip -n "$A" -br addr show dev eth0
say "done"
