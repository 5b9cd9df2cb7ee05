package check

import (
	"net/netip"
	"strconv"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
func itoa(i int) string            { return strconv.Itoa(i) }
func addrFrom4(a [4]byte) string   { return netip.AddrFrom4(a).String() }
