package ipvs

import (
	"encoding/binary"
	"testing"
)

// TestNetmaskBits: the kernel's persistence netmask attribute read back as
// a prefix length (IPv4: the mask's bytes in network order, read natively).
func TestNetmaskBits(t *testing.T) {
	raw := func(a, b, c, d byte) uint32 { return binary.NativeEndian.Uint32([]byte{a, b, c, d}) }
	for _, c := range []struct {
		raw  uint32
		want int
	}{{raw(255, 255, 255, 0), 24}, {raw(255, 255, 255, 255), 32}, {raw(0, 0, 0, 0), 0}, {raw(255, 0, 255, 0), -1}} {
		if got := netmaskBits(4, c.raw); got != c.want {
			t.Errorf("netmaskBits(4, %#x) = %d, want %d", c.raw, got, c.want)
		}
	}
	if got := netmaskBits(6, 64); got != 64 {
		t.Errorf("IPv6: %d", got)
	}
}
