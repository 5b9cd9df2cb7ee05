package config

import (
	"fmt"
	"net/netip"

	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// Typed values of the model: a reader accepts only what it can type (with
// FILE:LINE when it cannot), so the layers below never parse a string of
// the configuration again and cannot fail on one.

// Forward is how IPVS forwards to a real server.
type Forward string

const (
	Gate Forward = "gate" // direct routing (ipvsadm -g)
	Masq Forward = "masq" // NAT (-m)
	IPIP Forward = "ipip" // tunnel (-i)
)

// IPVS is the kernel's forwarding value. A model built by a reader holds
// only the three above; anything else (a hand-built model) is masq, the
// kernel's own default.
func (f Forward) IPVS() uint32 {
	switch f {
	case Gate:
		return ipvs.FwdGate
	case IPIP:
		return ipvs.FwdIPIP
	}
	return ipvs.FwdMasq
}

func isForward(s string) bool { return s == string(Gate) || s == string(Masq) || s == string(IPIP) }

// Protocol is a virtual service's protocol.
type Protocol string

const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
	FWM  Protocol = "fwm" // a firewall mark, no address or port
)

// StatusSet is a set of HTTP status codes (100..599), built once from a
// check's status ranges: a check tests a bit, it parses nothing. It is
// comparable, so check specs holding one still compare with ==.
type StatusSet struct{ bits [8]uint64 }

// NewStatusSet is the set of the codes in rs (codes outside 100..599 are
// dropped: the readers accept only 1xx-5xx).
func NewStatusSet(rs []StatusRange) StatusSet {
	var s StatusSet
	for _, r := range rs {
		for c := max(r.Lo, 100); c <= min(r.Hi, 599); c++ {
			s.bits[(c-100)/64] |= 1 << ((c - 100) % 64)
		}
	}
	return s
}

// Empty: no status_code was given (then any 2xx is up, after redirects).
func (s StatusSet) Empty() bool { return s == StatusSet{} }

// Has says whether code is in the set.
func (s StatusSet) Has(code int) bool {
	if code < 100 || code > 599 {
		return false
	}
	return s.bits[(code-100)/64]&(1<<((code-100)%64)) != 0
}

// HostPort renders a real's addr:port ([v6]:port).
func (r *Real) HostPort() string {
	return netip.AddrPortFrom(r.Addr, r.Port).String()
}

// Key identifies a virtual service as IPVS does: protocol and address:port,
// or the firewall mark and family.
func (v *Virtual) Key() string {
	if v.Protocol == FWM {
		if v.Family == 6 {
			return fmt.Sprintf("fwm6:%d", v.FWMark)
		}
		return fmt.Sprintf("fwm:%d", v.FWMark)
	}
	return string(v.Protocol) + ":" + netip.AddrPortFrom(v.Addr, v.Port).String()
}
