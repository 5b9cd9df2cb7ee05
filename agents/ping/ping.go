// Package ping is the ocf:lvs:ping resource agent: ocf:pacemaker:ping with
// every host probed in parallel (ICMP echo from Go, IPv4 and IPv6 mixed, or
// a TCP connect per host:port), the score written to the node attribute
// with attrd_updater.
package ping

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/icmp"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// Host is one entry of host_list.
type Host struct {
	Spec  string     // as written
	Name  string     // address or host name (no brackets, no port)
	Addr  netip.Addr // when Name is a literal address
	Iface string     // addr%iface
	Port  int        // >0: TCP connect probe
}

// TCP reports whether the host is probed by TCP connect.
func (h Host) TCP() bool { return h.Port > 0 }

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	// all-numeric dotted names are bad IPv4 addresses, not host names
	if strings.Trim(s, "0123456789.") == "" {
		return false
	}
	return true
}

// ParseHost parses one host_list entry: addr, addr%iface, name (ICMP);
// addr:port, [v6]:port, name:port (TCP connect).
func ParseHost(s string) (Host, error) {
	h := Host{Spec: s}
	bad := func(why string) (Host, error) { return h, fmt.Errorf("unparsable host %q: %s", s, why) }
	host := s
	if strings.HasPrefix(host, "[") {
		j := strings.IndexByte(host, ']')
		if j < 0 {
			return bad("missing ]")
		}
		rest := host[j+1:]
		host = host[1:j]
		if strings.HasPrefix(rest, ":") {
			p, err := strconv.Atoi(rest[1:])
			if err != nil || p < 1 || p > 65535 {
				return bad("port must be 1-65535")
			}
			h.Port = p
		} else if rest != "" {
			return bad("junk after ]")
		}
	} else if strings.Count(host, ":") == 1 {
		i := strings.IndexByte(host, ':')
		p, err := strconv.Atoi(host[i+1:])
		if err != nil || p < 1 || p > 65535 {
			return bad("port must be 1-65535")
		}
		h.Port, host = p, host[:i]
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		h.Iface, host = host[i+1:], host[:i]
		if h.Iface == "" || len(h.Iface) > 15 {
			return bad("bad interface name")
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		h.Addr, h.Name = a.Unmap(), a.Unmap().String()
		return h, nil
	}
	if strings.Contains(host, ":") {
		return bad("not an IPv6 address (write [addr]:port for TCP)")
	}
	if !validHostname(host) {
		return bad("not an IPv4/IPv6 address or host name")
	}
	if h.Iface != "" {
		return bad("%iface needs a literal address")
	}
	h.Name = host
	return h, nil
}

// ParseHostList splits host_list (spaces or commas) and parses each entry.
func ParseHostList(s string) ([]Host, error) {
	var hs []Host
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' }) {
		h, err := ParseHost(f)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("empty host_list: give the hosts to ping")
	}
	return hs, nil
}

// Score is reachable hosts times multiplier.
func Score(up, multiplier int) int { return up * multiplier }

// ProbeTimeout returns the time one probe round may take: the timeout
// parameter when set; otherwise, as ocf:pacemaker:ping does, the operation
// timeout (20 s when unknown) divided by the number of hosts and attempts,
// finishing 10% early, in whole seconds; below 1 s the original uses 5 s
// and above 1000 s it uses 300 s.
func ProbeTimeout(set time.Duration, opTimeout time.Duration, hosts, attempts int) time.Duration {
	if set > 0 {
		return set
	}
	if opTimeout <= 0 {
		opTimeout = 20 * time.Second
	}
	if hosts < 1 {
		return 5 * time.Second
	}
	if attempts < 1 {
		attempts = 1
	}
	ms := int64(opTimeout/time.Millisecond) / int64(hosts) / int64(attempts)
	sec := ms / 1100
	switch {
	case sec < 1:
		return 5 * time.Second
	case sec > 1000:
		return 300 * time.Second
	}
	return time.Duration(sec) * time.Second
}

func positive(v ocf.Value) error {
	if v.Int < 1 {
		return fmt.Errorf("must be at least 1")
	}
	return nil
}

var Agent = &ocf.Agent{
	Name:  "ping",
	Short: "node connectivity (parallel ICMP/TCP probes)",
	Long: "Every time the monitor action runs, this agent probes all hosts of host_list at once " +
		"(ICMP echo from Go, IPv4 and IPv6 mixed; or a TCP connect for host:port entries) and " +
		"records the number it can reach, times multiplier, in the node attribute name " +
		"(attrd_updater). A monitor takes about one timeout however many hosts are down.",
	Params: []ocf.Param{
		{Name: "pidfile", Short: "State file",
			Long: "State file marking the resource started (default: HA_RSCTMP/ping-<instance>, or ping-<name> for an anonymous clone)."},
		{Name: "dampen", Type: ocf.Time, Default: "5s", Short: "Dampening interval",
			Long: "The time to wait (dampening) for further changes before the attribute is written to the CIB (attrd_updater -d)."},
		{Name: "name", Default: "pingd", Short: "Attribute name",
			Long: "The name of the node attribute to set; the name used in location constraints.",
			Check: func(v ocf.Value) error {
				if strings.TrimSpace(v.Raw) == "" || strings.ContainsAny(v.Raw, " \t\n'\"<>&") {
					return fmt.Errorf("not a usable attribute name")
				}
				return nil
			}},
		{Name: "multiplier", Type: ocf.Integer, Default: "1", Short: "Value multiplier",
			Long: "The number by which to multiply the number of reachable hosts.", Check: positive},
		{Name: "host_list", Required: true, Short: "Hosts to probe",
			Long: "Space (or comma) separated list of hosts: addr, addr%iface or name for ICMP echo; " +
				"addr:port, [v6addr]:port or name:port for a TCP connect probe. IPv4 and IPv6 may be mixed.",
			Check: func(v ocf.Value) error { _, err := ParseHostList(v.Raw); return err }},
		{Name: "attempts", Type: ocf.Integer, Default: "3", Short: "no. of ping attempts",
			Long: "Number of echo requests per host (sent one after the other within timeout, until one is answered); ignored for TCP.", Check: positive},
		{Name: "timeout", Type: ocf.Time, Short: "ping timeout",
			Long: "How long to wait for each host, in seconds or with a ms/s suffix (all hosts are probed at once). " +
				"Unset: derived from the operation timeout as ocf:pacemaker:ping does.",
			Check: func(v ocf.Value) error {
				if v.Dur <= 0 {
					return fmt.Errorf("must be positive")
				}
				return nil
			}},
		{Name: "options", Short: "Extra options (ignored)",
			Long: "Accepted for compatibility with ocf:pacemaker:ping; there is no ping binary to pass them to."},
		{Name: "failure_score", Type: ocf.Integer, Short: "failure_score",
			Long: "When set, start and monitor fail when the score is below it."},
		{Name: "use_fping", Type: ocf.Boolean, Default: "1", Short: "Use fping (ignored)",
			Long: "Accepted for compatibility; probing is always parallel and needs no binary."},
		{Name: "debug", Default: "false", Short: "Verbose logging",
			Long: "true: log inactive hosts; verbose: also every probe result.",
			Check: func(v ocf.Value) error {
				switch strings.ToLower(v.Raw) {
				case "true", "1", "false", "0", "verbose", "2", "yes", "no":
					return nil
				}
				return fmt.Errorf("want true, false or verbose")
			}},
	},
	Actions: []ocf.ActionSpec{
		{Name: "start", Timeout: "60s"},
		{Name: "stop", Timeout: "20s"},
		{Name: "monitor", Timeout: "60s", Interval: "10s", Depth: "0"},
		{Name: "reload", Timeout: "20s"},
		{Name: "meta-data", Timeout: "5s"},
		{Name: "validate-all", Timeout: "30s"},
	},
	Start:   start,
	Stop:    stop,
	Monitor: monitor,
	Reload:  func(*ocf.Context) error { return nil }, // everything is re-read on each monitor
}

func pidfile(c *ocf.Context) string {
	if p := c.Params.String("pidfile"); p != "" {
		return p
	}
	if c.Env("OCF_RESKEY_CRM_meta_globally_unique") == "false" {
		return filepath.Join(c.StateDir(), "ping-"+c.Params.String("name"))
	}
	return c.StateFile("")
}

func debugLevel(c *ocf.Context) int {
	switch strings.ToLower(c.Params.String("debug")) {
	case "true", "1", "yes":
		return 1
	case "verbose", "2":
		return 2
	}
	return 0
}

// Result of one probe round.
type Result struct {
	Host Host
	Up   bool
	RTT  time.Duration
	Err  error
}

// ProbeHosts probes every host at once: ICMP hosts through one shared
// Pinger (one socket per family), TCP hosts by connect. Host names are
// resolved within the same timeout.
func ProbeHosts(ctx context.Context, hosts []Host, attempts int, timeout time.Duration) []Result {
	res := make([]Result, len(hosts))
	pinger := icmp.NewPinger()
	defer pinger.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout+20*time.Millisecond)
	defer cancel()
	if attempts < 1 {
		attempts = 1
	}
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Result{Host: h}
			if h.TCP() {
				r.Up, r.RTT, r.Err = tcpProbe(ctx, net.JoinHostPort(h.Name, strconv.Itoa(h.Port)), timeout)
			} else {
				addr := h.Addr
				if !addr.IsValid() {
					ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h.Name)
					if err != nil || len(ips) == 0 {
						r.Err = fmt.Errorf("resolving %s: %v", h.Name, err)
						res[i] = r
						return
					}
					addr = ips[0].Unmap()
				}
				r.Up, r.RTT, r.Err = pinger.Probe(ctx, icmp.Target{Addr: addr, Iface: h.Iface}, attempts, timeout/time.Duration(attempts))
			}
			res[i] = r
		}()
	}
	wg.Wait()
	return res
}

// attrdUpdater is the attrd_updater command (a variable for tests).
var attrdUpdater = "attrd_updater"

func runAttrd(c *ocf.Context, args ...string) error {
	cmd := exec.Command(attrdUpdater, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("attrd_updater %s failed (%v): %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func update(c *ocf.Context) error {
	hosts, _ := ParseHostList(c.Params.String("host_list"))
	attempts := c.Params.Int("attempts")
	timeout := ProbeTimeout(c.Params.Duration("timeout"), c.Timeout, len(hosts), attempts)
	res := ProbeHosts(context.Background(), hosts, attempts, timeout)
	up := 0
	var down []string
	dbg := debugLevel(c)
	for _, r := range res {
		if r.Up {
			up++
			if dbg > 1 {
				c.Log.Info("%s is alive (%v)", r.Host.Spec, r.RTT.Round(time.Microsecond))
			}
			continue
		}
		down = append(down, r.Host.Spec)
		if r.Err != nil && !r.Host.TCP() {
			c.Log.Warn("%s: %v", r.Host.Spec, r.Err)
		} else if dbg > 0 {
			why := "no answer"
			if r.Err != nil {
				why = r.Err.Error()
			}
			c.Log.Warn("%s is inactive: %s", r.Host.Spec, why)
		}
	}
	score := Score(up, c.Params.Int("multiplier"))
	name := c.Params.String("name")
	dampen := strconv.FormatInt(int64(c.Params.Duration("dampen")/time.Millisecond), 10) + "ms"
	if err := runAttrd(c, "-n", name, "-B", strconv.Itoa(score), "-d", dampen); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "could not update node attribute %s=%d: %v", name, score, err)
	}
	c.Log.Debug("updated %s = %d (%d/%d hosts up)", name, score, up, len(hosts))
	if c.Params.IsSet("failure_score") && score < c.Params.Int("failure_score") {
		return ocf.Errorf(ocf.ErrGeneric, "%s=%d is below failure_score %d (unreachable: %s)", name, score, c.Params.Int("failure_score"), strings.Join(down, " "))
	}
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func start(c *ocf.Context) error {
	if !c.HaveBinary(attrdUpdater) {
		return ocf.Errorf(ocf.ErrInstalled, "attrd_updater not found (install pacemaker-cli-utils)")
	}
	pf := pidfile(c)
	if err := os.MkdirAll(filepath.Dir(pf), 0o755); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "state directory for %s: %v", pf, err)
	}
	if err := os.WriteFile(pf, nil, 0o644); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "writing state file %s: %v", pf, err)
	}
	if err := update(c); err != nil {
		os.Remove(pf)
		return err
	}
	return nil
}

func stop(c *ocf.Context) error {
	pf := pidfile(c)
	if err := os.Remove(pf); err != nil && !os.IsNotExist(err) {
		return ocf.Errorf(ocf.ErrGeneric, "removing state file %s: %v", pf, err)
	}
	if c.HaveBinary(attrdUpdater) {
		dampen := strconv.FormatInt(int64(c.Params.Duration("dampen")/time.Millisecond), 10) + "ms"
		if err := runAttrd(c, "-D", "-n", c.Params.String("name"), "-d", dampen); err != nil {
			c.Log.Warn("%v", err)
		}
	}
	return nil
}

func monitor(c *ocf.Context) error {
	if !exists(pidfile(c)) {
		return ocf.ErrNotRunning
	}
	if !c.HaveBinary(attrdUpdater) {
		return ocf.Errorf(ocf.ErrInstalled, "attrd_updater not found (install pacemaker-cli-utils)")
	}
	return update(c)
}
