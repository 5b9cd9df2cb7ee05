package config

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
)

// NetmaskBits reads a persistence netmask as the readers store it — a
// dotted quad for IPv4, a prefix length for IPv6, "" for the full mask —
// and returns its length. The readers reject what it rejects, so the
// director's call on a loaded model does not fail.
func NetmaskBits(family int, s string) (int, error) {
	if family == 6 {
		if s == "" {
			return 128, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 128 {
			return 0, fmt.Errorf("a prefix length 1..128 is required for IPv6")
		}
		return n, nil
	}
	if s == "" {
		return 32, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("dotted quad notation is required for IPv4 (e.g. 255.255.255.0)")
	}
	n, ok := addr.MaskBits4(a)
	if !ok {
		return 0, fmt.Errorf("the mask is not contiguous")
	}
	return n, nil
}
