#!/bin/sh
# The pkgtest tier (make pkgtest, part of make test): the RPMs installed
# into a scratch `rpm --root` tree and the .debs unpacked with
# `dpkg --root`, then checked as a node would use them:
#   - every file present with its mode, config files flagged, the .deb
#     holding the same tree as the RPM;
#   - lvsd and the agents say the build's version; lvsd check accepts the
#     sample config (as installed, and with its example uncommented);
#   - each agent's meta-data valid against ra-api-1.dtd, shown by
#     `pcs resource describe` and `crm ra info`; ocf-tester passes on the
#     installed VIP, VIPcheck and realserver (in a network namespace) and
#     ping (against a live one-node Pacemaker cluster; director: VM tier);
#   - every man page renders without a warning (man --warnings), and
#     lvsd(8) has a section for each command of lvsd --help;
#   - systemd-analyze verify passes on the installed units;
#   - rpmlint and lintian report nothing beyond what is explained
#     (packaging/rpmlint.toml, packaging/deb/*.lintian-overrides).
# Usage: [DAEMONS="lvsd ..."] test-packages.sh VERSION RPMDIR DEBDIR AGENT...
set -eu
version=$1 rpmdir=$2 debdir=$3
shift 3
agents=$*
daemons=${DAEMONS:-lvsd}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# Failures are counted in a file: some checks run in pipeline subshells.
fail() { echo "pkgtest: FAIL: $*"; echo x >>"$tmp/fails"; }
# As testenv.Skip: loud outside CI, a failure in CI.
skip() {
	if [ "${CI:-}" = true ]; then fail "$* (CI: a skip is a failure)"; else echo "pkgtest: SKIP: $*"; fi
}
need() { command -v "$1" >/dev/null 2>&1 || { skip "$1 not installed (make deps)"; return 1; }; }

tmp=$(mktemp -d)
: >"$tmp/fails"
ns=""
cleanup() {
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# ocf-tester runs meta-data as nobody: the tree must be readable to all.
chmod 0755 "$tmp"

rpms=$(ls "$rpmdir"/ocf-lvs-"$version"-1.*.rpm "$rpmdir"/../noarch/ocf-lvs-ldirectord-"$version"-1.*.rpm)
debs=$(ls "$debdir"/ocf-lvs_"$version"-1_*.deb "$debdir"/ocf-lvs-ldirectord_"$version"-1_*.deb)

## The RPMs, installed into a scratch root. The scriptlets are checked
## below as text here (they would run chrooted into a tree with no
## /bin/sh); the VM tier runs them for real (packaging/vmtest).
r="$tmp/rpmroot"
mkdir -p "$r"
rpm --root "$r" --initdb
rpm -i --nodeps --noscripts --root "$r" $rpms 2>&1 | grep -v -e 'should not be used directly' -e 'assuming you know' || true
rpm --root "$r" -q ocf-lvs ocf-lvs-ldirectord >/dev/null || fail "rpm -q: packages not installed"

# Expected files: MODE TYPE PATH (l: symlink, with its target).
manifest="$tmp/manifest"
{
	for a in $agents; do
		echo "755 f /usr/lib/ocf/resource.d/lvs/$a"
		echo "644 f /usr/share/man/man7/ocf_lvs_$a.7.gz"
	done
	for b in $daemons; do echo "755 f /usr/sbin/$b"; done
	cat <<EOF
755 d /usr/lib/ocf/resource.d/lvs
777 l /usr/sbin/ldirectord lvsd
644 f UNITDIR/lvsd.service
644 f UNITDIR/lvsd@.service
644 f /usr/lib/tmpfiles.d/lvsd.conf
755 d /etc/lvsd
644 f /etc/lvsd/lvs.toml
644 f /etc/logrotate.d/ocf-lvs
644 f /etc/logrotate.d/ldirectord
755 d /var/log/lvsd
644 f /usr/share/ocf-lvs/prometheus/lvsd-alerts.yml
644 f /usr/share/man/man8/lvsd.8.gz
777 l /usr/share/man/man8/ldirectord.8.gz lvsd.8.gz
644 f /usr/share/doc/ocf-lvs/README.md
EOF
	for d in "$top"/docs/*.md; do echo "644 f /usr/share/doc/ocf-lvs/docs/$(basename "$d")"; done
} >"$manifest"

check_tree() { # ROOT UNITDIR LABEL
	n=0
	sed "s|UNITDIR|$2|" "$manifest" | while read -r mode type path target; do
		p="$1$path"
		case $type in
		f) [ -f "$p" ] && [ ! -L "$p" ] || { fail "$3: $path missing or not a file"; continue; } ;;
		d) [ -d "$p" ] || { fail "$3: $path missing or not a directory"; continue; } ;;
		l) [ "$(readlink "$p" 2>/dev/null)" = "$target" ] || { fail "$3: $path is not a link to $target"; continue; } ;;
		esac
		got=$(stat -c %a "$p")
		[ "$got" = "$mode" ] || fail "$3: $path mode $got, want $mode"
	done
	# Nothing installed that the manifest does not name (bar doc files).
	(cd "$1" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/have"
	sed "s|UNITDIR|$2|" "$manifest" | awk '$2 != "d" {print $3}' | sort >"$tmp/want"
	extra=$(comm -23 "$tmp/have" "$tmp/want" | grep -v -e '^/var/lib/' -e '^/usr/lib/sysimage/' -e '^/root/\.rpmdb/' -e '^/usr/share/doc/ocf-lvs[^/]*/\(copyright\|changelog.Debian.gz\)$' \
		-e '^/usr/share/lintian/overrides/ocf-lvs\(-ldirectord\)\{0,1\}$' || true)
	[ -z "$extra" ] || fail "$3: files the test does not know: $extra"
}
check_tree "$r" /usr/lib/systemd/system rpm

conf=$(rpm --root "$r" -qc ocf-lvs ocf-lvs-ldirectord | sort | tr '\n' ' ')
[ "$conf" = "/etc/logrotate.d/ldirectord /etc/logrotate.d/ocf-lvs /etc/lvsd/lvs.toml " ] || fail "rpm config files: $conf"
for p in $rpms; do
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$p" 2>/dev/null | grep '^cn' >>"$tmp/noreplace" || true
done
[ "$(wc -l <"$tmp/noreplace")" -eq 3 ] || fail "not every config file is %config(noreplace): $(cat "$tmp/noreplace")"
scripts=$(rpm -qp --scripts "$rpmdir"/ocf-lvs-"$version"-1.*.rpm 2>/dev/null)
for s in "preset lvsd.service" "disable --now lvsd.service" "try-restart lvsd.service" "systemd-tmpfiles --create lvsd.conf"; do
	echo "$scripts" | grep -q -- "$s" || fail "rpm scriptlets: no '$s'"
done
rpm -q --root "$r" --requires ocf-lvs-ldirectord | grep -qx "ocf-lvs = $version-1" || fail "ocf-lvs-ldirectord does not require ocf-lvs = $version-1"
rpm -q --root "$r" --conflicts ocf-lvs-ldirectord | grep -qx ldirectord || fail "ocf-lvs-ldirectord does not conflict with ldirectord"

## Versions, the sample configuration, meta-data.
lvsd="$r/usr/sbin/lvsd"
"$lvsd" --version | grep -q "^lvsd (ocf-lvs) $version" || fail "lvsd --version: $("$lvsd" --version)"
"$r/usr/sbin/ldirectord" --version | grep -q "^lvsd (ocf-lvs) $version" || fail "ldirectord --version"
"$lvsd" check --no-host "$r/etc/lvsd/lvs.toml" >/dev/null || fail "lvsd check of the installed /etc/lvsd/lvs.toml"
sed 's/^#\([a-z[]\)/\1/' "$r/etc/lvsd/lvs.toml" >"$tmp/example.toml"
"$lvsd" check --no-host "$tmp/example.toml" | grep -q '192.0.2.10:80' || fail "lvsd check of lvs.toml with its example uncommented"
for a in $agents; do
	bin="$r/usr/lib/ocf/resource.d/lvs/$a"
	"$bin" --version | grep -q "^$a (ocf-lvs) $version" || fail "$a --version: $("$bin" --version)"
	"$bin" meta-data >"$tmp/$a.xml" || fail "$a meta-data failed"
	grep -q "<resource-agent name=\"$a\" version=\"$version\">" "$tmp/$a.xml" || fail "$a meta-data: no version=\"$version\""
	if need xmllint && [ -f /usr/share/resource-agents/ra-api-1.dtd ]; then
		# The DOCTYPE names ra-api-1.dtd relative to the file, as
		# ocf-tester has it.
		cp /usr/share/resource-agents/ra-api-1.dtd "$tmp/"
		xmllint --noout --valid "$tmp/$a.xml" || fail "$a meta-data invalid against ra-api-1.dtd"
	fi
done

## ocf-tester from the installed tree. VIP, VIPcheck and realserver are
## safe in a network namespace; ping needs a running attrd (below) and
## director a kernel IPVS (the VM tier).
if need ocf-tester; then
	if [ "$(id -u)" != 0 ]; then
		skip "ocf-tester of VIP, VIPcheck and realserver: needs root (a network namespace)"
	else
		ns="pkgtest$$"
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip -n "$ns" link add v0 type veth peer name v1
		ip -n "$ns" link set v0 up
		ip -n "$ns" link set v1 up
		ip -n "$ns" addr add 192.0.2.1/24 dev v0
		ip -n "$ns" addr add 2001:db8::1/64 dev v0 nodad
		ip -n "$ns" route add default via 192.0.2.2
		mkdir -p "$tmp/rsctmp"
		tester() { # NAME AGENT PARAM...
			n=$1 a=$2
			shift 2
			if printf '%s\n' $agents | grep -qx "$a"; then
				o=""
				for p in "$@"; do o="$o -o $p"; done
				# shellcheck disable=SC2086
				out=$(HA_RSCTMP="$tmp/rsctmp" ip netns exec "$ns" ocf-tester -n "$n" $o "$r/usr/lib/ocf/resource.d/lvs/$a" 2>&1) &&
					echo "$out" | grep -q "passed all tests" || fail "ocf-tester $a $*: $out"
			fi
		}
		tester vip4 VIP ip=192.0.2.100 arp_count=1
		tester vip6 VIP ip=2001:db8::100 nodad=true arp_count=1
		tester vipcheck VIPcheck target_ip=192.0.2.200 wait=200ms
		tester rs realserver ip=192.0.2.150,2001:db8::150
	fi
fi
# ping needs a running attrd: agents/ping's TestOCFTester starts a real
# one-node corosync + Pacemaker (internal/pcmk, in its own namespaces) and
# runs ocf-tester on the installed ping. director needs kernel IPVS: the
# VM tier installs the packages for real and runs ocf-tester on it there
# (packaging/vmtest).
if printf '%s\n' $agents | grep -qx ping && need ocf-tester && need pacemakerd && need corosync; then
	if [ "$(id -u)" != 0 ]; then
		skip "ocf-tester of the installed ping: needs root (a Pacemaker cluster in namespaces)"
	else
		if out=$(cd "$top" && OCFLVS_PING_AGENT="$r/usr/lib/ocf/resource.d/lvs/ping" ${GO:-go} test -count=1 -v -run '^TestOCFTester$' ./agents/ping 2>&1) &&
			echo "$out" | grep -q "ocf-tester $r/usr/lib/ocf/resource.d/lvs/ping: passed all tests"; then
			echo "pkgtest: ocf-tester: the installed ping passed against a live one-node Pacemaker cluster"
		else
			fail "ocf-tester of the installed ping (against a live cluster): $out"
		fi
	fi
fi
for a in $agents; do
	case $a in VIP | VIPcheck | realserver | ping) ;; *) echo "pkgtest: ocf-tester on the installed $a runs in the VM tier (packaging/vmtest)" ;; esac
done

## What pcs and crm users run: `pcs resource describe` (which also checks
## the meta-data against pcs's schema) and `crm ra info`, on the installed
## agents, seen where Pacemaker looks for them: the tree's resource.d laid
## over /usr/lib/ocf/resource.d in a private mount namespace.
if [ "$(id -u)" != 0 ]; then
	skip "pcs resource describe / crm ra info: needs root (a mount namespace)"
elif need pcs && need crm && need unshare; then
	cat >"$tmp/describe.sh" <<EOF
set -e
mount -t overlay overlay -o lowerdir=$r/usr/lib/ocf/resource.d:/usr/lib/ocf/resource.d /usr/lib/ocf/resource.d
for a in $agents; do
	pcs resource describe ocf:lvs:\$a >$tmp/pcs.\$a 2>&1 || echo "pcs resource describe ocf:lvs:\$a: \$(cat $tmp/pcs.\$a)"
	crm ra info ocf:lvs:\$a >$tmp/crm.\$a 2>&1 || echo "crm ra info ocf:lvs:\$a: \$(cat $tmp/crm.\$a)"
done
EOF
	out=$(unshare -m --propagation private sh "$tmp/describe.sh" 2>&1) || true
	[ -z "$out" ] || fail "$out"
	for a in $agents; do
		short=$(sed -n 's|^<shortdesc lang="en">\(.*\)</shortdesc>$|\1|p' "$tmp/$a.xml" | head -1 | sed "s/&#39;/'/g")
		grep -qF "ocf:lvs:$a - $short" "$tmp/pcs.$a" 2>/dev/null || fail "pcs resource describe ocf:lvs:$a: no '$short'"
		grep -qF "(ocf:lvs:$a)" "$tmp/crm.$a" 2>/dev/null || fail "crm ra info ocf:lvs:$a: $(head -3 "$tmp/crm.$a" 2>/dev/null)"
	done
fi

## Man pages: each renders with no warning (man --warnings = groff -ww).
if need man; then
	for p in "$r"/usr/share/man/man*/*; do
		err=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null) || fail "man -l $p failed"
		[ -z "$err" ] || fail "man --warnings -l $p: $err"
	done
	page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$r/usr/share/man/man8/lvsd.8.gz" 2>/dev/null)
	for c in $("$lvsd" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'); do
		echo "$page" | grep -Eq "^   ([a-z-]+, )*$c(,|$)" || fail "lvsd(8) has no section for lvsd $c"
	done
	for a in $agents; do
		page=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$r/usr/share/man/man7/ocf_lvs_$a.7.gz" 2>/dev/null)
		for s in NAME "SUPPORTED PARAMETERS" "SUPPORTED ACTIONS" "EXAMPLE CRM SHELL" "EXAMPLE PCS"; do
			echo "$page" | grep -qx "$s" || fail "ocf_lvs_$a(7): no $s section"
		done
		for pn in $(sed -n 's/.*<parameter name="\([^"]*\)".*/\1/p' "$tmp/$a.xml"); do
			echo "$page" | grep -qx "       $pn" || fail "ocf_lvs_$a(7): parameter $pn missing"
		done
	done
fi

## systemd-analyze verify on the installed units, in a root that also
## holds this system's units (their targets); any line naming ours fails.
if need systemd-analyze; then
	mkdir -p "$r/lib/systemd"
	cp -r /lib/systemd/system "$r/lib/systemd/"
	mkdir -p "$r/etc/ha.d"
	out=$(systemd-analyze verify --man=no --root="$r" lvsd.service lvsd@ldirectord.cf.service 2>&1 || true)
	bad=$(echo "$out" | grep lvsd || true)
	[ -z "$bad" ] || fail "systemd-analyze verify: $bad"
	rm -rf "$r/lib"
fi

## rpmlint, with the filters the spec explains.
if need rpmlint; then
	out=$(rpmlint -c "$here/rpmlint.toml" $rpms "$here/ocf-lvs.spec" 2>&1 || true)
	echo "$out" | grep -q ' 0 errors, 0 warnings' || fail "rpmlint: $out"
fi

## The .debs: the same tree as the RPM (dpkg -x), accepted by dpkg into a
## scratch database (dpkg --root --unpack: no maintainer script runs, they
## have no preinst; configure would run postinst chrooted; the VM tier runs
## them for real), lintian clean.
x="$tmp/debx"
for p in $debs; do dpkg -x "$p" "$x"; done
check_tree "$x" /lib/systemd/system deb
d="$tmp/debroot"
mkdir -p "$d/var/lib/dpkg/info" "$d/var/lib/dpkg/updates"
: >"$d/var/lib/dpkg/status"
: >"$d/var/lib/dpkg/available"
# shellcheck disable=SC2086
dpkg --root="$d" --force-depends --unpack $debs >"$tmp/dpkg.log" 2>&1 || fail "dpkg --root --unpack: $(cat "$tmp/dpkg.log")"
dpkg-query --admindir="$d/var/lib/dpkg" -W -f '${Status}\n' ocf-lvs ocf-lvs-ldirectord | grep -c 'unpacked' | grep -qx 2 || fail "dpkg --root: not unpacked"
dconf=$(dpkg-query --admindir="$d/var/lib/dpkg" -W -f '${Conffiles}\n' ocf-lvs ocf-lvs-ldirectord | awk 'NF {print $1}' | sort | tr '\n' ' ')
[ "$dconf" = "/etc/logrotate.d/ldirectord /etc/logrotate.d/ocf-lvs /etc/lvsd/lvs.toml " ] || fail "deb conffiles: $dconf"
dpkg-deb -f "$debdir"/ocf-lvs-ldirectord_*.deb Conflicts Replaces | grep -c ldirectord | grep -qx 2 || fail "ocf-lvs-ldirectord.deb: no Conflicts/Replaces ldirectord"
for s in postinst prerm postrm; do
	dpkg-deb --ctrl-tarfile "$debdir"/ocf-lvs_*.deb | tar -x -O "./$s" | sh -n || fail "deb $s: syntax"
done
# One licence statement (none chosen yet: NOASSERTION) in both formats.
rlic=$(rpm -qp --qf '%{LICENSE}' "$rpmdir"/ocf-lvs-"$version"-1.*.rpm 2>/dev/null)
for p in ocf-lvs ocf-lvs-ldirectord; do
	dlic=$(sed -n '/^Files: \*$/,/^$/s/^License: //p' "$x/usr/share/doc/$p/copyright")
	[ -n "$rlic" ] && [ "$rlic" = "$dlic" ] || fail "licence: the RPM says '$rlic', $p's copyright '$dlic'"
done
# The same binaries as the RPM's.
cmp -s "$r/usr/sbin/lvsd" "$x/usr/sbin/lvsd" || fail "deb and rpm lvsd differ"
if need lintian; then
	# shellcheck disable=SC2086
	out=$(lintian -I --pedantic --fail-on error,warning,info,pedantic $debs 2>&1 | grep -v 'running with root privileges' || true)
	[ -z "$out" ] || fail "lintian: $out"
fi

if [ -s "$tmp/fails" ]; then
	echo "pkgtest: $(wc -l <"$tmp/fails") failure(s)"
	exit 1
fi
echo "pkgtest: ok: $(echo $rpms $debs | wc -w) packages, $(wc -l <"$manifest") files checked ($version; agents: $agents)"
