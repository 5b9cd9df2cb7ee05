#!/bin/sh
# Builds keepalived 2.3.3 (Debian trixie's source, from the Debian archive)
# into .cache/keepalived-2.3.3/keepalived, VRRP only, for the netns tests
# that need what Debian 12's keepalived 2.2.7 lacks: v3_checksum_as_v2
# came in 2.2.8. trixie's binary package needs glibc 2.38 (bookworm has
# 2.36), so the source is built here: about 15 s on 2 cores. Idempotent;
# the tarball is checked against its sha256 (as in trixie's Sources).
set -eu
cd "$(dirname "$0")/.."
ver=2.3.3
sum=2288c5c7609fa452782b7acefa19acce742d0204dc17f54d36da46b10f8b590c
dir=.cache/keepalived-$ver
bin=$dir/keepalived
if [ -x "$bin" ] && "$bin" --version 2>&1 | grep -q "v$ver"; then
	exit 0
fi
mkdir -p "$dir"
tarball=$dir/keepalived_$ver.orig.tar.gz
if ! echo "$sum  $tarball" | sha256sum -c --status 2>/dev/null; then
	echo "build-keepalived: fetching keepalived $ver's source from deb.debian.org" >&2
	curl -fsS --retry 3 -m 120 -o "$tarball.part" "http://deb.debian.org/debian/pool/main/k/keepalived/keepalived_$ver.orig.tar.gz"
	echo "$sum  $tarball.part" | sha256sum -c --status || { echo "build-keepalived: $tarball: sha256 mismatch" >&2; exit 1; }
	mv "$tarball.part" "$tarball"
fi
echo "build-keepalived: building keepalived $ver (VRRP only) into $dir" >&2
rm -rf "$dir/src"
mkdir -p "$dir/src"
tar xzf "$tarball" -C "$dir/src" --strip-components=1
(
	cd "$dir/src"
	./configure --disable-lvs --disable-snmp --disable-dbus --disable-systemd --disable-nftables \
		--disable-iptables --disable-track-process >configure.log 2>&1 || { tail -20 configure.log >&2; exit 1; }
	make -j"$(nproc)" >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
)
cp "$dir/src/keepalived/keepalived" "$bin.part"
mv "$bin.part" "$bin"
rm -rf "$dir/src"
"$bin" --version 2>&1 | head -1 >&2
