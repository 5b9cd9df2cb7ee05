#!/bin/sh
# bench/vrrp.sh: VRRP failover, an lvsd pair against a keepalived pair
# (Debian's 2.2.7) with the same settings in the same run, each pair in two
# fresh network namespaces: v2 advert_int 1 (clean stop, kill -9), v3 0.1 s
# (both) and 0.05 s (kill -9). Time from the signal to the VIP's
# RTM_NEWADDR on the backup; medians and ratios lvsd / keepalived (target
# <= 1 in every row). Then bench/vrrpflap: spurious takeovers of an lvsd
# pair and a keepalived pair side by side at v3 advert_int 0.05 s for
# FLAP_MINUTES (default 5; 0 skips it) with every core kept busy by
# another process (target 0). Needs root, keepalived, bin/lvsd (make build).
# Usage: [FLAP_MINUTES=M] sh bench/vrrp.sh [-runs N]
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/vrrp.sh needs root (network namespaces)"; exit 1; }
command -v keepalived >/dev/null || { echo "missing keepalived (make deps)"; exit 1; }
make -s build
echo "bench/vrrp.sh (ocf-lvs $(git rev-parse --short HEAD 2>/dev/null || echo '?')); $(keepalived --version 2>&1 | head -1)"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start, $(date -u '+%Y-%m-%d %H:%M UTC')"
${GO:-go} run ./bench/vrrp -lvsd bin/lvsd "$@"
[ "${FLAP_MINUTES:-5}" = 0 ] || exec ${GO:-go} run ./bench/vrrpflap -lvsd bin/lvsd -minutes "${FLAP_MINUTES:-5}"
