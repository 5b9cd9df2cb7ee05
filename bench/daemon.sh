#!/bin/sh
# bench/daemon.sh: the director daemons side by side in the same QEMU VM
# (this host's kernel has no IPVS): lvsd run vs ldirectord (driving the
# real ipvsadm) and keepalived. Prints a table of both tools' figures and
# the ratios; the whole output is kept in bench/results/daemon-DATE.txt.
#   1. a real killed -> its netlink delete, at 10 and 1,000 reals
#   2. SIGHUP reload of a 10,000-real keepalived.conf with one weight changed
# Arguments go to the bench program (bench/daemon/main.go), e.g.
#   sh bench/daemon.sh -sizes 10 -trials 4 -reload 0
#   sh bench/daemon.sh -ld-max 10            # ldirectord on the 10-real table only
# VM_ACCEL=tcg|kvm picks the accelerator (vmrun's default: KVM when it
# works); DAEMON_TIMEOUT bounds the job (default 30m); DAEMON_PROFILE=1
# runs lvsd with --cpuprofile and unpacks the profiles under
# .cache/bench-daemon-profiles/ (with the lvsd binary they belong to);
# DAEMON_TRACE=1 runs it with --trace (go tool trace FILE), unpacked there too.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
mkdir -p bench/results .cache/vm
# Private copies: the VM reads binaries over 9p with caching, and a
# `make build` elsewhere rewriting bin/lvsd mid-run would corrupt it.
bin=.cache/bench-daemon-$$
trap 'rm -rf $bin' EXIT
mkdir -p $bin
CGO_ENABLED=0 $GO build -o $bin/lvsd ./cmd/lvsd
# BASE=<commit>: that commit's lvsd too (tools lvsd-ka-base, lvsd-ld-base),
# e.g. BASE=abc123 sh bench/daemon.sh -sizes '' -reload-tools lvsd-ka-base,lvsd-ka,keepalived
base=
if [ -n "${BASE:-}" ]; then
	mkdir -p $bin/base
	git archive "$BASE" | tar -x -C $bin/base
	(cd $bin/base && CGO_ENABLED=0 $GO build -o ../lvsd-base ./cmd/lvsd)
	base="-lvsd-base $bin/lvsd-base"
fi
CGO_ENABLED=0 $GO build -o $bin/daemonbench ./bench/daemon
$GO build -o .cache/vm/vmrun ./vm/vmrun
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/daemon-$stamp.txt
{
	echo "bench/daemon.sh $*${BASE:+ (BASE=$BASE)} (lvsd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- cmd lib 2>/dev/null || echo ', cmd/ or lib/ modified'))"
	echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%Y-%m-%d %H:%M UTC')"
} | tee "$out"
set +e
prof=
[ "${DAEMON_PROFILE:-0}" = 1 ] && prof="-profile /tmp/bench-daemon-prof"
# DAEMON_TRACE=1: lvsd run with --trace (go tool trace), unpacked as the profiles
[ "${DAEMON_TRACE:-0}" = 1 ] && prof="$prof -trace /tmp/bench-daemon-trace"
# the profiles go to the file only, not the terminal
{
	.cache/vm/vmrun -timeout "${DAEMON_TIMEOUT:-40m}" -- $bin/daemonbench -lvsd $bin/lvsd $base $prof "$@" 2>&1
	echo $? > $bin/rc
} | tee -a "$out" | awk '/^=== profile /{skip=1} !skip; /^=== end/{skip=0}'
rc=$(cat $bin/rc)
set -e
echo "host: load $(cut -d' ' -f1-3 /proc/loadavg) at end" | tee -a "$out"
# lvsd's CPU profiles come back base64 in the output (the VM's writes stay
# in its overlay): unpack them next to the results, out of the text file.
if grep -q '^=== profile ' "$out"; then
	mkdir -p .cache/bench-daemon-profiles
	cp $bin/lvsd .cache/bench-daemon-profiles/$stamp-lvsd
	awk -v dir=.cache/bench-daemon-profiles/$stamp '
		/^=== profile / { f = dir "-" $3 ".b64"; next }
		/^=== end/ { close(f); f = ""; next }
		f != "" { print > f }' "$out"
	for f in .cache/bench-daemon-profiles/$stamp-*.b64; do
		base64 -d "$f" > "${f%.b64}" && rm -f "$f"
		echo "profile: ${f%.b64} (go tool pprof -top .cache/bench-daemon-profiles/$stamp-lvsd ${f%.b64})"
	done
	tmp=$out.tmp
	awk '/^=== profile /{skip=1; next} /^=== end/{skip=0; next} !skip' "$out" > "$tmp" && mv "$tmp" "$out"
fi
echo "saved: $out"
exit $rc
