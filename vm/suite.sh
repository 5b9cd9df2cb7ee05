#!/bin/sh
# Runs inside the test VM (see mk/vm.mk): every Go test binary listed in
# DIR/manifest ("binary package-dir vm-pattern noipvs-pattern" per line:
# vm/tests.sh), each from its package directory: its vm tests, then, in a
# process of their own, its *WithoutIPVS tests ("-": none).
# Exit status: number of failures.
# VM_RUN (a -test.run pattern, instead of the manifest's; one process) and
# VM_V (=1 for -test.v) narrow and widen it.
set -f # the patterns are not globs
dir=$1
root=$(pwd)
fail=0
v=""
[ "${VM_V:-}" = 1 ] && v="-test.v"
while read -r bin pkg vmtests noipvs; do
	[ -n "$bin" ] || continue
	echo "=== vm: $pkg"
	start=$(date +%s)
	ok=1
	for run in ${VM_RUN:-$vmtests $noipvs}; do
		[ "$run" = - ] && continue
		(cd "$root/$pkg" && "$dir/$bin" $v -test.count=1 -test.timeout=20m -test.run "$run") || ok=0
	done
	if [ $ok = 1 ]; then
		echo "ok   vm $pkg $(( $(date +%s) - start ))s"
	else
		echo "FAIL vm $pkg $(( $(date +%s) - start ))s"
		# The console prints only the kernel's emergencies (loglevel=3):
		# a soft lockup's stack is in the ring buffer alone.
		echo "--- vm: kernel log after $pkg failed (last 80 lines)"
		dmesg 2>/dev/null | tail -80
		echo "---"
		fail=$((fail + 1))
	fi
done < "$dir/manifest"
echo "vm: $fail failed"
exit $fail
