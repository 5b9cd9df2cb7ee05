#!/bin/sh
# Builds the .deb packages (ocf-lvs, ocf-lvs-ldirectord) with dpkg-deb from
# the tree `make install` stages: the same files as the RPM, at Debian's
# paths (units in /lib/systemd/system, as bookworm's debhelper puts them).
# The maintainer scripts are what dh_installsystemd --no-enable and
# dh_installtmpfiles write. Usage: build-deb.sh VERSION OUTDIR
set -eu
version=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
rev=1
arch=amd64
maint="ocf-lvs developers <ocf-lvs@users.noreply.github.com>"
date=$(date -u -R -d "@$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)")

rm -rf "$out" && mkdir -p "$out"
stage="$out/stage"
make -s -C "$top" install install-ldirectord DESTDIR="$stage" PREFIX=/usr \
	UNITDIR=/lib/systemd/system RPM_VERSION="$version" >/dev/null

# The ldirectord files go to their own package.
main="$out/ocf-lvs" ld="$out/ocf-lvs-ldirectord"
mv "$stage" "$main"
for f in usr/sbin/ldirectord usr/share/man/man8/ldirectord.8.gz etc/logrotate.d/ldirectord; do
	mkdir -p "$ld/$(dirname "$f")"
	mv "$main/$f" "$ld/$f"
done

# Debian's doc files: copyright and changelog.Debian.gz in each package.
docs() { # ROOT PACKAGE
	d="$1/usr/share/doc/$2"
	mkdir -p "$d"
	sed "s/@YEAR@/$(date -u +%Y)/" "$here/deb/copyright" > "$d/copyright"
	printf '%s (%s-%s) unstable; urgency=medium\n\n  * Built from the ocf-lvs tree (make deb).\n\n -- %s  %s\n' \
		"$2" "$version" "$rev" "$maint" "$date" | gzip -9n > "$d/changelog.Debian.gz"
}
docs "$main" ocf-lvs
docs "$ld" ocf-lvs-ldirectord
# The lintian tags that remain, each with its reason (lintian reads these).
for p in ocf-lvs:"$main" ocf-lvs-ldirectord:"$ld"; do
	install -D -m 0644 "$here/deb/${p%%:*}.lintian-overrides" "${p#*:}/usr/share/lintian/overrides/${p%%:*}"
done

control() { # ROOT PACKAGE
	mkdir -p "$1/DEBIAN"
	size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
	sed -e "s/@VERSION@/$version-$rev/g" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@MAINT@/$maint/" \
		"$here/deb/$2.control" > "$1/DEBIAN/control"
	for s in conffiles postinst prerm postrm; do
		[ -f "$here/deb/$2.$s" ] || continue
		cp "$here/deb/$2.$s" "$1/DEBIAN/$s"
		case $s in conffiles) chmod 0644 "$1/DEBIAN/$s" ;; *) chmod 0755 "$1/DEBIAN/$s" ;; esac
	done
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) > "$1/DEBIAN/md5sums"
	chmod 0644 "$1/DEBIAN/md5sums"
}
control "$main" ocf-lvs
control "$ld" ocf-lvs-ldirectord

for p in ocf-lvs ocf-lvs-ldirectord; do
	a=$(sed -n 's/^Architecture: //p' "$out/$p/DEBIAN/control")
	dpkg-deb --root-owner-group -Zgzip --build "$out/$p" "$out/${p}_$version-${rev}_$a.deb" >/dev/null
	rm -rf "${out:?}/$p"
done
ls "$out"/*.deb
