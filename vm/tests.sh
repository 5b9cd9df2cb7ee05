#!/bin/sh
# Prints the two -test.run patterns of what the VM runs of package directory
# $1: the tests of its `//go:build vm` files, then the *WithoutIPVS tests of
# the others (they run for real only where IPVS can be hidden: in the VM);
# "-" for none. The two run as separate processes, the *WithoutIPVS ones
# last: unloading ip_vs renumbers its generic netlink family, which a
# process (moby/ipvs) resolves once. The package's other tests ran on the
# host already (go test ./...); running them again under emulation doubled
# the tier's time for nothing.
set -eu
list() { sort -u | paste -sd'|' | sed 's/^\(..*\)$/^(\1)$/; s/^$/-/'; }
vmtests=$(for f in "$1"/*_test.go; do
	[ "$(head -n1 "$f")" = "//go:build vm" ] && sed -n 's/^func \(Test[A-Za-z0-9_]*\)(t \*testing\.T).*/\1/p' "$f"
done | list)
noipvs=$(for f in "$1"/*_test.go; do
	[ "$(head -n1 "$f")" != "//go:build vm" ] && sed -n 's/^func \(Test[A-Za-z0-9_]*WithoutIPVS\)(t \*testing\.T).*/\1/p' "$f"
done | list)
echo "$vmtests $noipvs"
