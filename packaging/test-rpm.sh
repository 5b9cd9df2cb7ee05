#!/bin/sh
# Checks a built RPM: file list and a packaged agent that runs.
set -eu
rpm=$(readlink -f "$1")
files=$(rpm -qlp "$rpm")
for f in /usr/lib/ocf/resource.d/lvs/VIP /usr/lib/ocf/resource.d/lvs/VIPcheck \
         /usr/lib/ocf/resource.d/lvs/ping /usr/sbin/lvsd; do
	echo "$files" | grep -qx "$f" || { echo "rpmtest: $f missing from $rpm"; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && rpm2cpio "$rpm" | cpio -id --quiet)
"$tmp/usr/lib/ocf/resource.d/lvs/VIP" meta-data | grep -q '<resource-agent name="VIP"' ||
	{ echo "rpmtest: packaged VIP gives no meta-data"; exit 1; }
"$tmp/usr/sbin/lvsd" --help >/dev/null
echo "rpmtest: $rpm ok ($(echo "$files" | wc -l) files)"
