package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
)

// System is the real Kernel: /proc/sys for the sysctls (per network
// namespace, like the addresses), netlink through lib/addr for addresses
// and links, modprobe for the tunnel modules.
type System struct{}

func (System) ReadSysctl(s Sysctl) (string, error) {
	b, err := os.ReadFile(s.Path())
	return strings.TrimSpace(string(b)), err
}

func (System) WriteSysctl(s Sysctl, v string) error {
	return os.WriteFile(s.Path(), []byte(v+"\n"), 0o644)
}

func (System) HasAddr(dev string, p netip.Prefix) (bool, error) {
	_, ok, err := addr.Has(dev, p)
	return ok, err
}

// AddAddr adds a host address; IPv6 with nodad (lo and the tunnel devices
// do no duplicate address detection anyway, and the VIP is meant to be on
// many hosts).
func (System) AddAddr(dev string, p netip.Prefix) error {
	return addr.Add(addr.Spec{Dev: dev, Prefix: p, NoDAD: p.Addr().Is6()})
}

func (System) DelAddr(dev string, p netip.Prefix) error { return addr.Remove(dev, p) }

func (System) Link(dev string) (bool, bool, error) {
	l, err := addr.LinkByName(dev)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, l.Up, nil
}

func (System) SetLink(dev string, up bool) error {
	if up {
		return addr.SetUp(dev)
	}
	return addr.SetDown(dev)
}

func (System) LoadModule(name string) error {
	out, err := exec.Command("modprobe", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modprobe %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (System) Routes() ([]Route, error) {
	rs, err := addr.Routes(netip.IPv4Unspecified())
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		def := r.Table == addr.TableMain && r.Type == addr.TypeUnicast && (!r.Dst.IsValid() || r.Dst.Bits() == 0)
		out = append(out, Route{Dev: r.Dev, Default: def})
	}
	return out, nil
}
