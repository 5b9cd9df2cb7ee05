package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Kernel is the thin layer the helper acts through (the real one is
// System; tests of the decisions use a fake).
type Kernel interface {
	ReadSysctl(s Sysctl) (string, error)
	WriteSysctl(s Sysctl, v string) error
	HasAddr(dev string, p netip.Prefix) (bool, error)
	AddAddr(dev string, p netip.Prefix) error
	DelAddr(dev string, p netip.Prefix) error
	// Link reports whether dev exists and is administratively up.
	Link(dev string) (exists, up bool, err error)
	SetLink(dev string, up bool) error
	LoadModule(name string) error
	Routes() ([]Route, error)
}

// State is what up changed, so that down can put it back. It is shared by
// every VIP set managed through one state file: the sysctls go back when
// the last VIP goes.
type State struct {
	VIPs       []VIPAddr     `json:"vips"`
	Tunnel     bool          `json:"tunnel,omitempty"`
	Interfaces []string      `json:"interfaces,omitempty"`
	Sysctls    []SavedSysctl `json:"sysctls,omitempty"`
	Links      []SavedLink   `json:"links,omitempty"`
}

// SavedSysctl is a value up changed: Prev was there before, Set is what up wrote.
type SavedSysctl struct {
	Sysctl
	Prev string `json:"prev"`
	Set  string `json:"set"`
}

// SavedLink is a device up brought up that was down.
type SavedLink struct {
	Dev string `json:"dev"`
}

// ErrNoTunnel means tunnel mode cannot have its device: the module is
// missing or creates no device in this namespace.
var ErrNoTunnel = errors.New("no tunnel device")

// Helper applies plans through a Kernel and keeps the state in StateFile.
type Helper struct {
	K         Kernel
	StateFile string
	Log       func(format string, args ...any) // what changed; nil = quiet
}

func (h *Helper) logf(format string, args ...any) {
	if h.Log != nil {
		h.Log(format, args...)
	}
}

// lock serialises helpers sharing a state file (Pacemaker runs the
// actions of different resources at once).
func (h *Helper) lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(h.StateFile), 0o755); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(h.StateFile+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// LoadState reads a state file; a missing file is the empty state.
func LoadState(path string) (State, bool, error) {
	var st State
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, false, fmt.Errorf("%s: %w (remove it to start afresh; the previous sysctl values it held are then lost)", path, err)
	}
	return st, true, nil
}

func (h *Helper) save(st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := h.StateFile + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, h.StateFile); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// ifaces resolves cfg.Interfaces (nil: the default routes' devices).
func (h *Helper) ifaces(cfg Config) ([]string, error) {
	if cfg.Interfaces != nil {
		return cfg.Interfaces, nil
	}
	rs, err := h.K.Routes()
	if err != nil {
		return nil, fmt.Errorf("reading routes: %w", err)
	}
	return DefaultDevs(rs), nil
}

// Up applies cfg. Running it twice is running it once: a value already
// acceptable is left alone, and a value saved by an earlier up keeps its
// original Prev. The state is written before each change, so a failure
// half way leaves what down needs to undo it.
func (h *Helper) Up(cfg Config) error {
	unlock, err := h.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, _, err := LoadState(h.StateFile)
	if err != nil {
		return err
	}
	ifs, err := h.ifaces(cfg)
	if err != nil {
		return err
	}
	for _, d := range ifs {
		if ok, _, err := h.K.Link(d); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("interface %s: no such device", d)
		}
	}
	p := MakePlan(cfg, ifs)
	st.Tunnel = st.Tunnel || cfg.Tunnel
	if cfg.Interfaces != nil {
		st.Interfaces = cfg.Interfaces
	}
	// Tunnel devices first: loading the module creates them, and their
	// sysctls exist only then.
	for _, l := range p.Links {
		ok, up, err := h.K.Link(l.Dev)
		if err != nil {
			return err
		}
		if !ok {
			if err := h.K.LoadModule(l.Module); err != nil {
				return fmt.Errorf("%w: tunnel mode needs %s (module %s): %v", ErrNoTunnel, l.Dev, l.Module, err)
			}
			if ok, up, err = h.K.Link(l.Dev); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("%w: tunnel mode needs %s: module %s is loaded but there is no %s in this network namespace (net.core.fb_tunnels_only_for_init_net?)", ErrNoTunnel, l.Dev, l.Module, l.Dev)
			}
			h.logf("loaded module %s (%s)", l.Module, l.Dev)
		}
		if !up {
			if !slices.ContainsFunc(st.Links, func(s SavedLink) bool { return s.Dev == l.Dev }) {
				st.Links = append(st.Links, SavedLink{Dev: l.Dev})
			}
			if err := h.save(st); err != nil {
				return err
			}
			if err := h.K.SetLink(l.Dev, true); err != nil {
				return fmt.Errorf("bringing %s up: %w", l.Dev, err)
			}
			h.logf("%s up", l.Dev)
		}
	}
	for _, w := range p.Sysctls {
		cur, err := h.K.ReadSysctl(w.Sysctl)
		if err != nil {
			return fmt.Errorf("reading %s: %w", w, err)
		}
		if w.Accepts(cur) {
			continue
		}
		if !slices.ContainsFunc(st.Sysctls, func(s SavedSysctl) bool { return s.Sysctl == w.Sysctl }) {
			st.Sysctls = append(st.Sysctls, SavedSysctl{Sysctl: w.Sysctl, Prev: cur, Set: w.Set})
		}
		if err := h.save(st); err != nil {
			return err
		}
		if err := h.K.WriteSysctl(w.Sysctl, w.Set); err != nil {
			return fmt.Errorf("setting %s = %s: %w", w, w.Set, err)
		}
		h.logf("%s = %s (was %s): %s", w, w.Set, cur, w.Why)
	}
	for _, v := range p.VIPs {
		if !slices.Contains(st.VIPs, v) {
			st.VIPs = append(st.VIPs, v)
		}
	}
	if err := h.save(st); err != nil {
		return err
	}
	for _, v := range p.VIPs {
		if v.Dev == "lo" {
			// A fresh network namespace starts with lo down; a host never.
			if err := h.K.SetLink("lo", true); err != nil {
				return fmt.Errorf("bringing lo up: %w", err)
			}
		}
		ok, err := h.K.HasAddr(v.Dev, v.Prefix())
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := h.K.AddAddr(v.Dev, v.Prefix()); err != nil {
			return err
		}
		h.logf("added %s to %s", v.Prefix(), v.Dev)
	}
	return nil
}

// Down removes the VIPs of cfg (none given: every VIP in the state) from
// lo and the tunnel devices, even one that was there before up, so that
// status says stopped afterwards. When no VIP of the state is left it puts
// back each saved sysctl that still holds the value up wrote (one changed
// since by someone else is left, and said), takes down the devices up
// brought up, and removes the state file. A second down finds nothing to
// do and succeeds.
func (h *Helper) Down(cfg Config) error {
	unlock, err := h.lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, found, err := LoadState(h.StateFile)
	if err != nil {
		return err
	}
	vips := cfg.VIPs
	if len(vips) == 0 {
		for _, v := range st.VIPs {
			if !slices.Contains(vips, v.IP) {
				vips = append(vips, v.IP)
			}
		}
	}
	// The VIPs go before ARP is allowed again.
	for _, ip := range vips {
		for _, dev := range []string{"lo", VIPDev(ip, true)} {
			p := netip.PrefixFrom(ip, ip.BitLen())
			ok, err := h.K.HasAddr(dev, p)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := h.K.DelAddr(dev, p); err != nil {
				return err
			}
			h.logf("removed %s from %s", p, dev)
		}
		st.VIPs = slices.DeleteFunc(st.VIPs, func(v VIPAddr) bool { return v.IP == ip })
	}
	if !found {
		return nil
	}
	if len(st.VIPs) > 0 {
		return h.save(st)
	}
	var errs []string
	left := State{} // what could not be put back: kept for another down
	for i := len(st.Sysctls) - 1; i >= 0; i-- {
		s := st.Sysctls[i]
		cur, err := h.K.ReadSysctl(s.Sysctl)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // the interface is gone, and its settings with it
		case err != nil:
			errs = append(errs, fmt.Sprintf("reading %s: %v", s.Sysctl, err))
			left.Sysctls = append([]SavedSysctl{s}, left.Sysctls...)
			continue
		case strings.TrimSpace(cur) != s.Set:
			h.logf("%s is %s, not the %s up set: changed since, left as it is (was %s before up)", s.Sysctl, strings.TrimSpace(cur), s.Set, s.Prev)
			continue
		}
		if err := h.K.WriteSysctl(s.Sysctl, s.Prev); err != nil {
			errs = append(errs, fmt.Sprintf("restoring %s = %s: %v", s.Sysctl, s.Prev, err))
			left.Sysctls = append([]SavedSysctl{s}, left.Sysctls...)
			continue
		}
		h.logf("%s = %s (restored)", s.Sysctl, s.Prev)
	}
	for _, l := range st.Links {
		if ok, _, err := h.K.Link(l.Dev); err == nil && ok {
			if err := h.K.SetLink(l.Dev, false); err != nil {
				errs = append(errs, fmt.Sprintf("bringing %s down: %v", l.Dev, err))
				left.Links = append(left.Links, l)
				continue
			}
			h.logf("%s down (it was down before up)", l.Dev)
		}
	}
	if len(errs) > 0 {
		if err := h.save(left); err != nil {
			errs = append(errs, err.Error())
		}
		return errors.New(strings.Join(errs, "; "))
	}
	if err := os.Remove(h.StateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Result is what status concludes.
type Result int

const (
	Running Result = iota // every VIP on its device, every setting in place
	Stopped               // no VIP on its device
	Partial               // some of it: an error to report
)

func (r Result) String() string {
	return [...]string{"running", "stopped", "partial"}[r]
}

// Report is what status saw.
type Report struct {
	VIPs    []VIPSeen
	Sysctls []SysctlSeen
	Links   []LinkSeen
}

// VIPSeen is one VIP and whether it is on its device.
type VIPSeen struct {
	VIPAddr
	Present bool
}

// SysctlSeen is one needed setting and its current value.
type SysctlSeen struct {
	Want
	Value   string
	InForce string // what the kernel uses: the larger of Value and all's
	Good    bool   // InForce does the job
}

func (s SysctlSeen) inForceNote() string {
	if s.InForce != s.Value {
		return ", " + s.InForce + " in force from all"
	}
	return ""
}

// LinkSeen is one needed device.
type LinkSeen struct {
	Dev        string
	Exists, Up bool
}

// Result: running when everything is in place, stopped when no VIP is
// (whatever the sysctls say: a host may set them for good in
// sysctl.conf), partial otherwise.
func (r Report) Result() Result {
	present := 0
	for _, v := range r.VIPs {
		if v.Present {
			present++
		}
	}
	if present == 0 {
		return Stopped
	}
	if len(r.Problems()) > 0 {
		return Partial
	}
	return Running
}

// Problems lists what is missing, one phrase each.
func (r Report) Problems() []string {
	var out []string
	for _, v := range r.VIPs {
		if !v.Present {
			out = append(out, fmt.Sprintf("%s is not on %s", v.Prefix(), v.Dev))
		}
	}
	for _, l := range r.Links {
		if !l.Exists {
			out = append(out, l.Dev+" does not exist")
		} else if !l.Up {
			out = append(out, l.Dev+" is down")
		}
	}
	for _, s := range r.Sysctls {
		if !s.Good {
			out = append(out, fmt.Sprintf("%s = %s%s (want %s)", s.Sysctl, s.Value, s.inForceNote(), strings.Join(s.Want.OK, " or ")))
		}
	}
	return out
}

// Status looks at the kernel (no lock, no change).
func (h *Helper) Status(cfg Config) (Report, error) {
	var r Report
	ifs, err := h.ifaces(cfg)
	if err != nil {
		return r, err
	}
	p := MakePlan(cfg, ifs)
	for _, v := range p.VIPs {
		ok, err := h.K.HasAddr(v.Dev, v.Prefix())
		if err != nil {
			return r, err
		}
		r.VIPs = append(r.VIPs, VIPSeen{VIPAddr: v, Present: ok})
	}
	for _, l := range p.Links {
		ok, up, err := h.K.Link(l.Dev)
		if err != nil {
			return r, err
		}
		r.Links = append(r.Links, LinkSeen{Dev: l.Dev, Exists: ok, Up: up})
	}
	read := func(s Sysctl) (string, error) {
		v, err := h.K.ReadSysctl(s)
		if errors.Is(err, fs.ErrNotExist) {
			return "absent", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", s, err)
		}
		return strings.TrimSpace(v), nil
	}
	for _, w := range p.Sysctls {
		v, err := read(w.Sysctl)
		if err != nil {
			return r, err
		}
		in := v
		if w.Dev != "all" {
			all, err := read(Sysctl{w.Family, "all", w.Name})
			if err != nil {
				return r, err
			}
			in = InForce(v, all)
		}
		r.Sysctls = append(r.Sysctls, SysctlSeen{Want: w, Value: v, InForce: in, Good: w.Accepts(in)})
	}
	return r, nil
}

// InForce is the value the kernel applies for a device's arp_ignore,
// arp_announce or rp_filter: the larger of the device's and all's
// (IN_DEV_MAXCONF). So a device whose own value was reset is still
// covered by all (a new default-route interface, say), and status does
// not call that partial.
func InForce(dev, all string) string {
	d, err1 := strconv.Atoi(dev)
	a, err2 := strconv.Atoi(all)
	if err1 != nil || err2 != nil {
		return dev
	}
	return strconv.Itoa(max(d, a))
}

// Fill completes cfg from the state file, for a command line that names
// less than up did: no VIPs means every VIP of the state, and the tunnel
// mode and interfaces up was given hold unless cfg says otherwise.
func (h *Helper) Fill(cfg Config) (Config, error) {
	st, _, err := LoadState(h.StateFile)
	if err != nil {
		return cfg, err
	}
	if len(cfg.VIPs) == 0 {
		for _, v := range st.VIPs {
			if !slices.Contains(cfg.VIPs, v.IP) {
				cfg.VIPs = append(cfg.VIPs, v.IP)
			}
		}
	}
	cfg.Tunnel = cfg.Tunnel || st.Tunnel
	if cfg.Interfaces == nil && st.Interfaces != nil {
		cfg.Interfaces = st.Interfaces
	}
	return cfg, nil
}

// Lines describes the report, one line per VIP, device and sysctl.
func (r Report) Lines() []string {
	var out []string
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSING"
	}
	set := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "NOT SET"
	}
	for _, v := range r.VIPs {
		out = append(out, fmt.Sprintf("%-8s %s on %s", mark(v.Present), v.Prefix(), v.Dev))
	}
	for _, l := range r.Links {
		out = append(out, fmt.Sprintf("%-8s %s up", mark(l.Exists && l.Up), l.Dev))
	}
	for _, s := range r.Sysctls {
		out = append(out, fmt.Sprintf("%-8s %s = %s%s (want %s)", set(s.Good), s.Sysctl, s.Value, s.inForceNote(), strings.Join(s.Want.OK, " or ")))
	}
	return out
}
