#!/bin/sh
# Prints the -test.run pattern of what the VM runs of package directory $1:
# the tests of its `//go:build vm` files, and the *WithoutIPVS tests of the
# others (they run for real only where IPVS can be hidden: in the VM). The
# package's other tests ran on the host already (go test ./...); running
# them again under emulation doubled the tier's time for nothing.
set -eu
names=$(for f in "$1"/*_test.go; do
	if [ "$(head -n1 "$f")" = "//go:build vm" ]; then
		sed -n 's/^func \(Test[A-Za-z0-9_]*\)(t \*testing\.T).*/\1/p' "$f"
	else
		sed -n 's/^func \(Test[A-Za-z0-9_]*WithoutIPVS\)(t \*testing\.T).*/\1/p' "$f"
	fi
done | sort -u | paste -sd'|')
echo "^($names)\$"
