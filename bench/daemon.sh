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
#   sh bench/daemon.sh -check http -sizes 1000 -tools lvsd-ka,keepalived -trials 1 -reload 0 -read-sizes ""
#                                            # HTTP checks: CPU and RSS per tool
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
# hostcpu stamps the bench's "=== cpu" marks with the host's clock and
# QEMU's CPU time (utime+stime ticks of vmrun's child): the emulation
# work of the whole VM over the same window, which the host's load does
# not inflate (the guest's own accounting counts a vCPU's time off the
# host's CPU as the process's).
hostcpu() {
	while IFS= read -r l; do
		case $l in
		"=== cpu "*)
			q=$(pgrep -P "$(cat $bin/vmrun.pid 2>/dev/null)" qemu-system 2>/dev/null | head -1)
			t=$( [ -n "$q" ] && sed 's/.*) //' /proc/$q/stat | awk '{ print $12 + $13 }')
			printf '%s host %s %s\n' "$l" "$(date +%s%N)" "${t:-?}" ;;
		*) printf '%s\n' "$l" ;;
		esac
	done
}
# the profiles go to the file only, not the terminal
{
	.cache/vm/vmrun -timeout "${DAEMON_TIMEOUT:-40m}" -- $bin/daemonbench -lvsd $bin/lvsd $base $prof "$@" 2>&1 &
	echo $! > $bin/vmrun.pid
	wait $!
	echo $? > $bin/rc
} | hostcpu | tee -a "$out" | awk '/^=== profile /{skip=1} !skip; /^=== end/{skip=0}'
rc=$(cat $bin/rc)
set -e
echo "host: load $(cut -d' ' -f1-3 /proc/loadavg) at end" | tee -a "$out"
# QEMU's CPU per check, from the marks: "=== cpu start KEY N host NS TICKS"
# and "=== cpu end KEY N CHECKS host NS TICKS"
awk -v hz="$(getconf CLK_TCK)" '
	/^=== cpu start / && $7 != "?" { k = $4 " " $5; ns[k] = $7; tk[k] = $8 }
	/^=== cpu end / && $9 != "?" && ($4 " " $5) in ns && $6 > 0 {
		k = $4 " " $5; c = ($9 - tk[k]) / hz; w = ($8 - ns[k]) / 1e9
		if (!hdr++) print "\nQEMU on the host (the whole VM: daemon, reals, kernel) while each tool checked:"
		printf "   %-12s %5d reals: %5.1f%% of a host core over %.1f s, %d checks: %.3f ms of host CPU per check\n", $4, $5, 100 * c / w, w, $6, 1000 * c / $6
		sc[k] += c; sn[k] += $6; runs[k]++
	}
	END {
		for (k in sc) { split(k, a, " "); kk = "keepalived " a[2]; if (a[1] != "keepalived" && kk in sc)
			printf "   ratio %s / keepalived at %s reals (%d and %d runs): %.2fx\n", a[1], a[2], runs[k], runs[kk], (sc[k] / sn[k]) / (sc[kk] / sn[kk]) }
	}' "$out" | tee -a "$out.host"
cat "$out.host" >> "$out" && rm -f "$out.host"
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
