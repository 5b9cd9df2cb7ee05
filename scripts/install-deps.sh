#!/bin/sh
# Install the Debian packages listed in scripts/deps.txt that are missing.
# Idempotent and quiet when everything is there, so `make test` can call it.
set -eu
here=$(dirname "$0")
missing=""
for p in $(grep -v '^#' "$here/deps.txt" | awk 'NF{print $1}'); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "install-deps: installing$missing" >&2
# Package installs must not start services (corosync, keepalived, ...).
rc_created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	rc_created=yes
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || apt-get update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing >/dev/null
[ -n "$rc_created" ] && rm -f /usr/sbin/policy-rc.d
exit 0
