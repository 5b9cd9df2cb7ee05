#!/bin/sh
# bench/vrrp.sh: VRRP failover, an lvsd pair against a keepalived pair
# (Debian's 2.2.7) with the same settings in the same run, each pair in two
# fresh network namespaces: v2 advert_int 1 (clean stop, kill -9), v3 0.1 s
# (both) and 0.05 s (kill -9). Time from the signal to the VIP's
# RTM_NEWADDR on the backup; medians and ratios lvsd / keepalived (target
# <= 1 in every row). Needs root, keepalived, bin/lvsd (make build).
# Usage: sh bench/vrrp.sh [-runs N]
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/vrrp.sh needs root (network namespaces)"; exit 1; }
command -v keepalived >/dev/null || { echo "missing keepalived (make deps)"; exit 1; }
make -s build
echo "bench/vrrp.sh (ocf-lvs $(git rev-parse --short HEAD 2>/dev/null || echo '?')); $(keepalived --version 2>&1 | head -1)"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%Y-%m-%d %H:%M UTC')"
exec ${GO:-go} run ./bench/vrrp -lvsd bin/lvsd "$@"
