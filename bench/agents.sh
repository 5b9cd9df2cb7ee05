#!/bin/sh
# bench/agents.sh: what each ocf:lvs agent of seed 002's group costs per
# operation outside Pacemaker, side by side with IPaddr2, timed by
# hyperfine in a network namespace: the bare exec of each binary (the
# floor every operation pays), VIP start / stop vs IPaddr2's, VIPcheck's
# start beyond its wait, and, where the kernel has IPVS (the VM), the
# director's start (lvsd launched, its first full pass, the status socket
# answering) and stop (cleanstop). One start of the director is also run
# under strace (execs, the ready pipe, the socket) and lvsd's own log kept,
# for the breakdown inside the op. Run on the host (no IPVS there: no
# director rows) or in the VM: make bench-agents-vm (bench/agents-vm.sh).
# Needs root, hyperfine, resource-agents, make build.
# Usage: sh bench/agents.sh [--bin DIR] [--no-ipaddr2] [hyperfine options, e.g. --runs 20]
# (--bin: the agents and lvsd of another build, e.g. a worktree of the
# commit before, side by side in one VM run; --no-ipaddr2 skips IPaddr2's
# rows, seconds each under emulation)
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/agents.sh needs root (network namespaces)"; exit 1; }
BIN=$(pwd)/bin
IP2=true
while [ $# -gt 0 ]; do
	case $1 in
	--bin) BIN=$(cd "$2" && pwd); shift 2 ;;
	--no-ipaddr2) IP2=false; shift ;;
	*) break ;;
	esac
done
IPADDR2=/usr/lib/ocf/resource.d/heartbeat/IPaddr2
for f in "$IPADDR2" "$BIN/VIP" "$BIN/VIPcheck" "$BIN/director" "$BIN/lvsd"; do [ -x "$f" ] || { echo "missing $f (make deps build)"; exit 1; }; done
command -v hyperfine >/dev/null || { echo "missing hyperfine (make deps)"; exit 1; }

A=agbench-a.$$ B=agbench-b.$$
TMP=$(mktemp -d)
# private copies on tmpfs, as the cluster test runs them: in the VM the
# root (and so bin/) is 9p, and an exec there reads the binary through it
mkdir "$TMP/bin"
for f in VIP VIPcheck director lvsd; do cp "$BIN/$f" "$TMP/bin/"; done
REV=$(cd "$BIN" && git rev-parse --short HEAD 2>/dev/null || echo '?')
SRC=$BIN
BIN=$TMP/bin
cleanup() {
	ip netns exec "$A" env OCF_RESKEY_configfile="$TMP/ldirectord.cf" "$BIN/director" stop >/dev/null 2>&1 || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add "$A"
ip netns add "$B"
ip link add eth0 netns "$A" type veth peer name eth0 netns "$B"
ip -n "$A" link set lo up
ip -n "$A" link set eth0 up
ip -n "$B" link set eth0 up
ip -n "$A" addr add 192.168.5.35/24 dev eth0
ip -n "$B" addr add 192.168.5.1/24 dev eth0

export OCF_ROOT=/usr/lib/ocf HA_RSCTMP="$TMP" OCF_RESOURCE_INSTANCE=bench
export OCF_RESKEY_ip=192.168.5.55 OCF_RESKEY_cidr_netmask=24
export OCF_RESKEY_target_ip=192.168.5.55 OCF_RESKEY_count=1 OCF_RESKEY_wait=200ms
export OCF_RESKEY_lvsd="$BIN/lvsd" OCF_RESKEY_configfile="$TMP/ldirectord.cf"
sed "s|^logfile=.*|logfile=\"$TMP/lvsd.log\"|" testdata/seed002/ldirectord.cf >"$TMP/ldirectord.cf"
echo "bench/agents.sh: $SRC ($REV), kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $(hyperfine --version)"
HF_ARGS="$*" # hyperfine options, e.g. --runs 5 (word-split on purpose)
in_ns() { ip netns exec "$A" "$@"; }
hf() { in_ns hyperfine -N --warmup 2 "$@"; }

hf --export-json "$TMP/exec.json" $HF_ARGS >/dev/null \
	-n true "/bin/true" -n "VIP meta-data" "$BIN/VIP meta-data" -n "director meta-data" "$BIN/director meta-data" \
	-n "lvsd version" "$BIN/lvsd version"
# one hyperfine per command: each with its own --prepare (a start after a
# stop, a stop after a start)
files="exec"
one() { # NAME FILE -p PREPARE COMMAND
	hf --export-json "$TMP/$2.json" $HF_ARGS "$3" "$4" -n "$1" "$5" >/dev/null
	files="$files $2"
}
one "VIP start" vipstart -p "$BIN/VIP stop" "$BIN/VIP start"
$IP2 && one "IPaddr2 start" ip2start -p "$IPADDR2 stop" "$IPADDR2 start"
one "VIP stop" vipstop -p "$BIN/VIP start" "$BIN/VIP stop"
$IP2 && one "IPaddr2 stop" ip2stop -p "$IPADDR2 start" "$IPADDR2 stop"
one "VIPcheck start (wait 200ms)" vcstart -p "$BIN/VIPcheck stop" "$BIN/VIPcheck start"
one "VIPcheck stop" vcstop -p "$BIN/VIPcheck start" "$BIN/VIPcheck stop"
have_ipvs=false
if [ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null; then
	in_ns sh -c '[ -e /proc/net/ip_vs ]' && have_ipvs=true
fi
if $have_ipvs; then
	# what moby/ipvs's first handle ran at every lvsd start until 2026-12-04
	one "modprobe -va ip_vs (loaded)" modprobe -p true "modprobe -va ip_vs"
	one "director start" dstart -p "$BIN/director stop" "$BIN/director start"
	one "director stop" dstop -p "$BIN/director start" "$BIN/director stop"
fi

python3 - "$TMP" $files <<'PY'
import json, sys
d = sys.argv[1]
print("\n%-30s %10s %10s %10s %10s" % ("operation", "mean", "min", "max", "CPU"))
for f in sys.argv[2:]:
    for x in json.load(open(f"{d}/{f}.json"))["results"]:
        print("%-30s %7.1f ms %7.1f ms %7.1f ms %7.1f ms" % (x["command"], x["mean"] * 1e3, x["min"] * 1e3,
              x["max"] * 1e3, (x["user"] + x["system"]) * 1e3))
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if $have_ipvs; then
	: >"$TMP/lvsd.log" # its log: this start only
	# one start under strace (in the background: strace -f follows lvsd,
	# which outlives the agent): the agent's execs, lvsd's, the ready pipe
	# and the socket, then lvsd's own log of that start
	# (--seccomp-bpf: only the traced calls stop the process)
	in_ns strace -f -ttt --seccomp-bpf -e trace=execve,exit_group,write,read,connect,accept4,listen,sendmsg,sendto -e signal=none \
		-o "$TMP/director-start.strace" "$BIN/director" start &
	i=0 # until the agent (the trace's first pid) has exited
	until [ -s "$TMP/director-start.strace" ] && grep -q "^$(head -n1 "$TMP/director-start.strace" | cut -d' ' -f1) .*+++ exited" "$TMP/director-start.strace" || [ $i -ge 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	in_ns "$BIN/director" stop
	wait
	# printed: the VM's root is read-only, its files do not come back
	echo "--- director start under strace (-f -ttt):"
	grep -v 'resumed>\|+++ killed\|EAGAIN' "$TMP/director-start.strace" | cut -c1-200
	echo "--- lvsd's log:"
	cat "$TMP/lvsd.log"
fi
