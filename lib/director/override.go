package director

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Action is what an operator's override (lvsd ctl) does to a real.
type Action int

const (
	Enable  Action = iota + 1 // no override: the checks alone decide (an exception to a wider override)
	Disable                   // out of the table, as a down real with quiescent=no
	Drain                     // weight 0: no new connections, the established ones keep going
	Weight                    // this weight instead of the configured one while the real is up
)

var actionNames = map[Action]string{Enable: "enable", Disable: "disable", Drain: "drain", Weight: "weight"}

func (a Action) String() string { return actionNames[a] }

// Override is one runtime override of a real, set with lvsd ctl: it
// outlives reloads and restarts (the engine's caller keeps it in a file).
type Override struct {
	Action  Action
	Real    netip.AddrPort // the real's address; port 0: any port of it
	Virtual string         // a virtual's key ("tcp:192.0.2.1:80", "fwm:5"); "": every virtual
	Weight  int            // Action Weight
}

// String is the override as the lvsd ctl command that sets it.
func (o Override) String() string {
	s := o.Action.String() + " " + realSpec(o.Real)
	if o.Action == Weight {
		s += " " + strconv.Itoa(o.Weight)
	}
	if o.Virtual != "" {
		s += " " + o.Virtual
	}
	return s
}

func realSpec(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String()
	}
	return a.String()
}

// MaxWeight is the largest weight lvsd ctl takes (ldirectord's and
// ipvsadm's bound).
const MaxWeight = 65535

// ParseOverride reads the words of an lvsd ctl command:
//
//	disable|enable|drain REAL [VIRTUAL]
//	weight REAL N [VIRTUAL]
//
// REAL is an address or address:port ([v6]:port); VIRTUAL is a virtual's
// key as lvsd status prints it (tcp:192.0.2.1:80, fwm:5), or ip:port when
// only one protocol has it (the engine resolves that against the
// configuration: see Resolve).
func ParseOverride(words []string) (Override, error) {
	if len(words) == 0 {
		return Override{}, fmt.Errorf("no command (disable, enable, drain REAL [VIRTUAL]; weight REAL N [VIRTUAL])")
	}
	var o Override
	switch words[0] {
	case "disable":
		o.Action = Disable
	case "enable":
		o.Action = Enable
	case "drain":
		o.Action = Drain
	case "weight":
		o.Action = Weight
	default:
		return o, fmt.Errorf("unknown command %q (disable, enable, drain, weight)", words[0])
	}
	rest := words[1:]
	if len(rest) == 0 {
		return o, fmt.Errorf("%s: no REAL (an address or address:port)", words[0])
	}
	r, err := ParseRealSpec(rest[0])
	if err != nil {
		return o, fmt.Errorf("%s: %v", words[0], err)
	}
	o.Real, rest = r, rest[1:]
	if o.Action == Weight {
		if len(rest) == 0 {
			return o, fmt.Errorf("weight %s: no weight N (0 to %d)", rest0(words), MaxWeight)
		}
		n, err := strconv.Atoi(rest[0])
		if err != nil || n < 0 || n > MaxWeight {
			return o, fmt.Errorf("weight %s: %q is not a weight (0 to %d)", rest0(words), rest[0], MaxWeight)
		}
		o.Weight, rest = n, rest[1:]
	}
	if len(rest) > 0 {
		o.Virtual, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return o, fmt.Errorf("%s: unexpected %q after the virtual", words[0], strings.Join(rest, " "))
	}
	return o, nil
}

func rest0(words []string) string {
	if len(words) > 1 {
		return words[1]
	}
	return ""
}

// ParseRealSpec reads REAL: an address (any port) or address:port.
func ParseRealSpec(s string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("real %q is not an address or address:port", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// matchesReal: o names real r of v (the configured port, or the port the
// kernel holds it on, when o gives one).
func (o Override) matchesReal(v *config.Virtual, r *config.Real) bool {
	if r.Addr.Unmap() != o.Real.Addr() {
		return false
	}
	if o.Real.Port() == 0 {
		return true
	}
	port := r.Port
	if port == 0 && v.Protocol != "fwm" {
		port = v.Port
	}
	return o.Real.Port() == port || (v.Protocol != "fwm" && r.Forward != "masq" && o.Real.Port() == v.Port)
}

// Matches: o applies to real r of virtual v.
func (o Override) Matches(v *config.Virtual, r *config.Real) bool {
	return (o.Virtual == "" || o.Virtual == v.Key()) && o.matchesReal(v, r)
}

// specificity orders overrides of the same real: one naming the virtual
// beats one for every virtual, one naming the port beats the address alone.
func (o Override) specificity() int {
	n := 0
	if o.Virtual != "" {
		n += 2
	}
	if o.Real.Port() != 0 {
		n++
	}
	return n
}

// within: every real o names is one wider names too.
func (o Override) within(wider Override) bool {
	return o.Real.Addr() == wider.Real.Addr() &&
		(wider.Real.Port() == 0 || o.Real.Port() == wider.Real.Port()) &&
		(wider.Virtual == "" || o.Virtual == wider.Virtual)
}

// Overrides are the overrides in force, in the order they were set.
type Overrides []Override

// For is the override that applies to real r of v: the most specific one
// that matches (the later on a tie); none when that one is an Enable.
func (os Overrides) For(v *config.Virtual, r *config.Real) (Override, bool) {
	best, found := Override{}, false
	for _, o := range os {
		if o.Matches(v, r) && (!found || o.specificity() >= best.specificity()) {
			best, found = o, true
		}
	}
	if !found || best.Action == Enable {
		return Override{}, false
	}
	return best, true
}

// With is os after o: o replaces the overrides it covers; an Enable
// removes them and stays only as the exception to a wider override still
// in force (enable REAL VIRTUAL under disable REAL).
func (os Overrides) With(o Override) Overrides {
	out := Overrides{}
	for _, x := range os {
		if !x.within(o) {
			out = append(out, x)
		}
	}
	if o.Action == Enable {
		wider := false
		for _, x := range out {
			wider = wider || (o.within(x) && x.Action != Enable)
		}
		if !wider {
			return out
		}
	}
	return append(out, o)
}

// Resolve checks o against cfg: its virtual (ip:port is completed with
// the protocol when only one virtual has it) and that it names at least
// one configured real there; the error names what exists.
func Resolve(cfg *config.Config, o Override) (Override, error) {
	if o.Virtual != "" {
		var keys []string
		for _, v := range cfg.Virtuals {
			k := v.Key()
			if k == o.Virtual || strings.TrimPrefix(k, string(v.Protocol)+":") == o.Virtual && v.Protocol != "fwm" {
				keys = append(keys, k)
			}
		}
		switch {
		case len(keys) == 0:
			return o, fmt.Errorf("no virtual %s in %s; its virtuals: %s", o.Virtual, cfg.Source, listOf(virtualKeys(cfg)))
		case len(keys) > 1:
			return o, fmt.Errorf("virtual %s is ambiguous: %s (name one)", o.Virtual, strings.Join(keys, ", "))
		}
		o.Virtual = keys[0]
	}
	var reals []string
	seen := map[string]bool{}
	for _, v := range cfg.Virtuals {
		if o.Virtual != "" && v.Key() != o.Virtual {
			continue
		}
		for _, r := range v.Reals {
			if o.Matches(v, r) {
				return o, nil
			}
			if s := r.HostPort(); !seen[s] {
				seen[s] = true
				reals = append(reals, s)
			}
		}
	}
	where := cfg.Source
	if o.Virtual != "" {
		where = o.Virtual
	}
	return o, fmt.Errorf("no real %s in %s; its reals: %s", realSpec(o.Real), where, listOf(reals))
}

func virtualKeys(cfg *config.Config) []string {
	var out []string
	for _, v := range cfg.Virtuals {
		out = append(out, v.Key())
	}
	return out
}

// listOf is a list for an error message, cut after 20.
func listOf(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	if len(s) > 20 {
		return strings.Join(s[:20], ", ") + fmt.Sprintf(", ... (%d in all)", len(s))
	}
	return strings.Join(s, ", ")
}

// Applies: o applies to at least one real of cfg (status marks those
// that no longer do after a reload: kept, in case the real comes back).
func (o Override) Applies(cfg *config.Config) bool {
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			if o.Matches(v, r) {
				return true
			}
		}
	}
	return false
}
