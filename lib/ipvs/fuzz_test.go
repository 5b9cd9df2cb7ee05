package ipvs

import (
	"net/netip"
	"testing"
)

// servicesFrom builds a small table from fuzz bytes: any combination of
// families, protocols, marks, flags, netmasks, forwarding and weights.
func servicesFrom(b []byte) []Service {
	var out []Service
	next := func() byte {
		if len(b) == 0 {
			return 0
		}
		c := b[0]
		b = b[1:]
		return c
	}
	for len(b) > 0 && len(out) < 8 {
		c := next()
		s := Service{Family: 4 + 2*int(c&1), Scheduler: Schedulers[int(next())%len(Schedulers)],
			Flags: uint32(next()), Timeout: uint32(next()), Netmask: int(int8(next()))}
		switch c >> 1 & 3 {
		case 0:
			s.FWMark = uint32(next()) + 1
		default:
			s.Protocol = []string{"tcp", "udp", "sctp", "icmp"}[c>>3&3]
			if c&0x20 != 0 {
				s.Addr = netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: next()})
			} else {
				s.Addr = netip.AddrFrom4([4]byte{192, 0, 2, next()})
			}
			s.Port = uint16(next())
		}
		for n := int(next() % 4); n > 0; n-- {
			d := Dest{Port: uint16(next()), Fwd: uint32(next()), Weight: int(int16(uint16(next())<<8 | uint16(next()))),
				Upper: uint32(next()), Lower: uint32(next())}
			if next()&1 == 0 {
				d.Addr = netip.AddrFrom4([4]byte{10, 0, 0, next()})
			} else {
				d.Addr = netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 1, 15: next()})
			}
			s.Dests = append(s.Dests, d)
		}
		out = append(out, s)
	}
	return out
}

// Plan never panics, and when it accepts a table, applying its plan to
// the actual table leaves nothing more to do.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 32, 2, 80, 1, 0, 3, 0, 1, 0, 0, 0})
	f.Add([]byte{0x23, 7, 1, 30, 64, 9, 53, 2, 53, 0, 0, 5, 100, 10, 1, 7})
	f.Fuzz(func(t *testing.T, desiredB []byte) {
		half := len(desiredB) / 2
		desired, actual := servicesFrom(desiredB[:half]), servicesFrom(desiredB[half:])
		ops, err := Plan(desired, actual, nil)
		if err != nil {
			return
		}
		// Simulate the kernel: apply ops to a copy of actual.
		tab := map[Key]Service{}
		for _, s := range actual {
			tab[s.Key()] = normalize(s, false)
		}
		for _, o := range ops {
			k := o.Service.Key()
			s := tab[k]
			switch o.Kind {
			case AddService, EditService:
				ds := s.Dests
				s = o.Service
				s.Dests = ds
				if o.Kind == AddService {
					s.Dests = nil
				}
			case DelService:
				delete(tab, k)
				continue
			case AddDest, EditDest, DelDest:
				var ds []Dest
				for _, d := range s.Dests {
					if d.Key() != o.Dest.Key() {
						ds = append(ds, d)
					}
				}
				if o.Kind != DelDest {
					ds = append(ds, o.Dest)
				}
				s.Dests = ds
			}
			tab[k] = s
		}
		var after []Service
		for _, s := range tab {
			after = append(after, s)
		}
		again, err := Plan(desired, after, nil)
		if err != nil || len(again) != 0 {
			t.Fatalf("second pass: %v %v", err, lines(again))
		}
	})
}
