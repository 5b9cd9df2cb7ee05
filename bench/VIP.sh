#!/bin/sh
# ocf:lvs:VIP vs ocf:heartbeat:IPaddr2, side by side in the same network
# namespace on the same address: monitor (probe and recurring) and a
# start+stop cycle, timed by hyperfine; prints the ratios (target >= 10x).
# Needs root, hyperfine, resource-agents, and bin/VIP (make build).
# Usage: sh bench/VIP.sh [hyperfine options, e.g. --runs 200]
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/VIP.sh needs root (network namespaces)"; exit 1; }
IPADDR2=/usr/lib/ocf/resource.d/heartbeat/IPaddr2
VIP=$(pwd)/bin/VIP
for f in "$IPADDR2" "$VIP"; do [ -x "$f" ] || { echo "missing $f (make deps build)"; exit 1; }; done
command -v hyperfine >/dev/null || { echo "missing hyperfine (make deps)"; exit 1; }

A=vipbench-a.$$ B=vipbench-b.$$
TMP=$(mktemp -d)
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
ip netns add "$A"; ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
ip -n "$A" link set lo up; ip -n "$A" link set eth0 up; ip -n "$B" link set eth0 up
ip -n "$A" addr add 192.0.2.1/24 dev eth0; ip -n "$B" addr add 192.0.2.2/24 dev eth0

# The same parameters for both; nic and netmask come from the routes (findif).
export OCF_ROOT=/usr/lib/ocf HA_RSCTMP="$TMP" OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_ip=192.0.2.100
echo "kernel $(uname -r), $(nproc) CPUs; $(hyperfine --version); resource-agents $(dpkg-query -W -f '${Version}' resource-agents 2>/dev/null || echo '?')"
echo "address $OCF_RESKEY_ip, interface and prefix from the routes, arp_count 5 (default)"

in_ns() { ip netns exec "$A" "$@"; }
in_ns "$VIP" start
in_ns hyperfine -N --warmup 5 "$@" --export-json "$TMP/probe.json" \
	-n IPaddr2 "$IPADDR2 monitor" -n VIP "$VIP monitor"
in_ns env OCF_RESKEY_CRM_meta_interval=10000 hyperfine -N --warmup 5 "$@" --export-json "$TMP/monitor.json" \
	-n IPaddr2 "$IPADDR2 monitor" -n VIP "$VIP monitor"
in_ns "$VIP" stop
in_ns hyperfine --warmup 3 "$@" --export-json "$TMP/startstop.json" \
	-n IPaddr2 "$IPADDR2 start && $IPADDR2 stop" -n VIP "$VIP start && $VIP stop"

python3 - "$TMP" <<'PY'
import json, sys
d = sys.argv[1]
# Wall time is what Pacemaker waits; CPU time (user+system) is steadier on a
# busy machine.
print("\n%-22s %11s %11s %7s | %13s %13s %7s" % ("operation", "IPaddr2", "VIP", "ratio", "IPaddr2 CPU", "VIP CPU", "ratio"))
for name, f in [("monitor (probe)", "probe"), ("monitor (recurring)", "monitor"), ("start + stop", "startstop")]:
    res = {x["command"]: x for x in json.load(open(f"{d}/{f}.json"))["results"]}
    a, b = res["IPaddr2"], res["VIP"]
    ca, cb = a["user"] + a["system"], b["user"] + b["system"]
    print("%-22s %8.2f ms %8.2f ms %6.1fx | %10.2f ms %10.2f ms %6.1fx" % (
        name, a["mean"] * 1e3, b["mean"] * 1e3, a["mean"] / b["mean"], ca * 1e3, cb * 1e3, ca / cb))
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
