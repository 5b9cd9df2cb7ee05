// Package director turns the configuration and the current health of the
// real servers into the desired IPVS table: ldirectord's rules (quiescent,
// fallback) as one pure function, Table, that tests call with data.
package director

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// RealKey names one real server of one virtual service.
type RealKey struct {
	Virtual string         // config.Virtual.Key(): "tcp:192.0.2.1:80", "fwm:5"
	Real    netip.AddrPort // the real's address and port as configured
}

// KeyOf names real r of virtual v.
func KeyOf(v *config.Virtual, r *config.Real) RealKey {
	return RealKey{Virtual: v.Key(), Real: netip.AddrPortFrom(r.Addr, r.Port)}
}

// Health tells whether a real is up. A real missing from the map is down,
// unless AllUp.
type Health interface{ Up(RealKey) bool }

// HealthMap is a Health over a map; reals not in it are down.
type HealthMap map[RealKey]bool

// Up implements Health.
func (h HealthMap) Up(k RealKey) bool { return h[k] }

type allUp struct{}

func (allUp) Up(RealKey) bool { return true }

// AllUp takes every real as up (`lvsd apply`: weights as configured).
var AllUp Health = allUp{}

// Table is the desired IPVS table for cfg given health:
//   - an up real has its configured weight;
//   - a down real has weight 0 when quiescent (the per-real setting, else
//     the virtual's), else it is left out of the table;
//   - when no real of a virtual is up, its fallback (its own, else the
//     global one of its family) is added with weight 1, and removed again
//     as soon as one real is up;
//   - keepalived quorum: the fallback also stands in when the weight of the
//     up reals is below the quorum.
//
// Quiesced reals are always present at weight 0, so ldirectord's
// readdquiescent=yes is the only behaviour.
func Table(cfg *config.Config, health Health) ([]ipvs.Service, error) {
	out := make([]ipvs.Service, 0, len(cfg.Virtuals))
	for _, v := range cfg.Virtuals {
		s, err := service(cfg.Source, v)
		if err != nil {
			return nil, err
		}
		upWeight, upCount := 0, 0
		seen := map[ipvs.DestKey]bool{}
		for _, r := range v.Reals {
			d, err := dest(cfg.Source, v, r)
			if err != nil {
				return nil, err
			}
			if seen[ipvsKey(s, d)] {
				continue // the same real twice (e.g. two ranges overlapping): once in IPVS
			}
			if health.Up(KeyOf(v, r)) {
				upCount++
				upWeight += r.Weight
			} else if quiescent(v, r) {
				d.Weight = 0
			} else {
				continue
			}
			seen[ipvsKey(s, d)] = true
			s.Dests = append(s.Dests, d)
		}
		needFallback := upCount == 0 || (v.Quorum > 0 && upWeight < v.Quorum)
		if fb := v.Fallback; fb != nil && needFallback {
			d, err := dest(cfg.Source, v, fb)
			if err != nil {
				return nil, err
			}
			d.Weight = 1
			if !seen[ipvsKey(s, d)] {
				s.Dests = append(s.Dests, d)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// ipvsKey is a dest's key as the kernel will hold it (gate/ipip reals of
// a port service take the virtual's port).
func ipvsKey(s ipvs.Service, d ipvs.Dest) ipvs.DestKey {
	if s.FWMark == 0 && d.Fwd != ipvs.FwdMasq {
		d.Port = s.Port
	}
	return d.Key()
}

func quiescent(v *config.Virtual, r *config.Real) bool {
	if r.Quiescent != nil {
		return *r.Quiescent
	}
	return v.Quiescent || v.InhibitOnFailure
}

// Keys are the IPVS keys of cfg's virtual services: what a config owns,
// so that on reload the virtuals it no longer has are removed.
func Keys(cfg *config.Config) []ipvs.Key {
	var out []ipvs.Key
	for _, v := range cfg.Virtuals {
		if s, err := Service(v); err == nil {
			out = append(out, s.Key())
		}
	}
	return out
}

// Service is the IPVS service of virtual v, without destinations.
func Service(v *config.Virtual) (ipvs.Service, error) { return service("", v) }

func service(src string, v *config.Virtual) (ipvs.Service, error) {
	s := ipvs.Service{Family: v.Family, Scheduler: v.Scheduler}
	where := fmt.Sprintf("%s: virtual %s", at(src, v.Line), v.Key())
	switch v.Protocol {
	case "fwm":
		s.FWMark = v.FWMark
	case "tcp", "udp", "sctp":
		s.Protocol, s.Addr, s.Port = v.Protocol, v.Addr, v.Port
	default:
		return s, fmt.Errorf("%s: protocol %q", where, v.Protocol)
	}
	if s.Scheduler == "" {
		s.Scheduler = "wrr"
	}
	f, err := ipvs.SchedFlagBits(v.SchedFlags)
	if err != nil {
		return s, fmt.Errorf("%s: %v", where, err)
	}
	s.Flags = f
	if v.OnePacket {
		s.Flags |= ipvs.FlagOnePacket
	}
	if v.Persistent > 0 {
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = uint32((v.Persistent + time.Second - 1) / time.Second)
		s.Netmask, err = config.NetmaskBits(v.Family, v.Netmask)
		if err != nil {
			return s, fmt.Errorf("%s: %v", where, err)
		}
	}
	return s, nil
}

func dest(src string, v *config.Virtual, r *config.Real) (ipvs.Dest, error) {
	fwd, err := ipvs.ParseFwd(r.Forward)
	if err != nil {
		return ipvs.Dest{}, fmt.Errorf("%s: real %s: %v", at(src, r.Line), r.HostPort(), err)
	}
	port := r.Port
	if port == 0 && v.Protocol != "fwm" {
		port = v.Port
	}
	return ipvs.Dest{Addr: r.Addr, Port: port, Fwd: fwd, Weight: r.Weight,
		Upper: uint32(max(r.Upper, 0)), Lower: uint32(max(r.Lower, 0))}, nil
}

// at is "file:line" for errors.
func at(src string, line int) string {
	if src == "" {
		src = "config"
	}
	return src + ":" + strconv.Itoa(line)
}
