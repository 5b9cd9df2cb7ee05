#!/bin/sh
# Runs inside the test VM (see mk/vm.mk): every Go test binary listed in
# DIR/manifest ("binary package-dir pattern" per line: the pattern names
# the package's vm tests, vm/tests.sh), each from its package directory.
# Exit status: number of failures.
# VM_RUN (a -test.run pattern, instead of the manifest's) and VM_V (=1 for
# -test.v) narrow and widen it.
dir=$1
root=$(pwd)
fail=0
v=""
[ "${VM_V:-}" = 1 ] && v="-test.v"
while read -r bin pkg tests; do
	[ -n "$bin" ] || continue
	run=${VM_RUN:-$tests}
	echo "=== vm: $pkg"
	start=$(date +%s)
	if (cd "$root/$pkg" && "$dir/$bin" $v -test.count=1 -test.timeout=20m ${run:+-test.run "$run"}); then
		echo "ok   vm $pkg $(( $(date +%s) - start ))s"
	else
		echo "FAIL vm $pkg $(( $(date +%s) - start ))s"
		fail=$((fail + 1))
	fi
done < "$dir/manifest"
echo "vm: $fail failed"
exit $fail
