package check

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Pair is what a Sub built by FromConfig carries in Data: the virtual and
// the real it watches.
type Pair struct {
	V *config.Virtual
	R *config.Real
}

// FromConfig turns every real of every virtual into a Sub. lookup gives a
// real's host name for the maintenance directory's fqdn/short names (nil:
// addresses only); it is called only when maintenancedir is set.
func FromConfig(cfg *config.Config, lookup func(netip.Addr) string) []Sub {
	n := 0
	for _, v := range cfg.Virtuals {
		n += len(v.Reals)
	}
	// sized once: a Sub is large, and growing the slice was half of this
	// function's time at 10,000 reals (a reload)
	subs := make([]Sub, 0, n)
	seen := make(map[config.RealID]bool, n)
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			id := v.ID(r)
			if seen[id] {
				continue // the same real listed twice: one state
			}
			seen[id] = true
			c := v.Check
			if r.Check != nil {
				c = *r.Check
			}
			sp := SpecFor(v, r, &c)
			s := Sub{ID: id, Spec: sp, Interval: c.Interval, FailureCount: c.FailureCount,
				RetryDelay: c.RetryDelay, Data: Pair{v, r}, StartUp: c.StartUp && sp.Type != "off", Warmup: c.Warmup,
				Weight: r.Weight}
			for _, f := range r.Files {
				s.Files = append(s.Files, FileWatch{Path: f.Track.File, Weight: f.Weight, Reverse: f.Reverse})
			}
			if s.Interval <= 0 {
				s.Interval = 10 * time.Second
			}
			if s.FailureCount <= 0 {
				s.FailureCount = 1
			}
			if cfg.Global.MaintenanceDir != "" {
				name := ""
				if lookup != nil {
					name = lookup(r.Addr)
				}
				s.MaintNames = MaintNames(r.Addr, sp.RealPort, name)
			}
			subs = append(subs, s)
		}
	}
	return subs
}

// SpecFor resolves the check of real r of virtual v as ldirectord does:
// service from the virtual's port when not given, port = checkport, else
// the real's, else the service's; the real's request/receive override.
func SpecFor(v *config.Virtual, r *config.Real, c *config.Check) Spec {
	typ := c.Type
	if typ == "" {
		typ = "negotiate"
	}
	svc := c.Service
	if svc == "" {
		svc = config.ServiceForPort(v.Port)
	}
	rport := r.Port
	if rport == 0 && v.Protocol != "fwm" {
		rport = v.Port
	}
	port := c.Port
	if port == 0 {
		port = rport
	}
	if port == 0 {
		port = config.ServicePort(svc)
	}
	req, rcv, rcvRE := c.Request, c.Receive, c.ReceiveRE
	if r.HasOverride || r.Request != "" {
		req = r.Request
	}
	if r.HasOverride || r.Receive != "" {
		rcv, rcvRE = r.Receive, r.ReceiveRE
	}
	vip := v.Addr.String()
	if v.Protocol == "fwm" {
		vip = strconv.FormatUint(uint64(v.FWMark), 10)
	}
	proto := v.Protocol
	if c.Proto != "" {
		proto = c.Proto
	}
	var also *[]Spec
	if len(c.Also) > 0 {
		specs := make([]Spec, len(c.Also))
		for i := range c.Also {
			specs[i] = SpecFor(v, r, &c.Also[i])
		}
		also = &specs
	}
	return Spec{
		Also: also,
		Type: typ, Service: svc, NegotiateEvery: c.NegotiateEvery, Protocol: proto,
		Addr: r.Addr, Port: port, RealPort: rport, VIP: vip, VPort: v.Port,
		Request: req, Receive: rcv, ReceiveRE: rcvRE, HTTPMethod: c.HTTPMethod, VirtualHost: c.VirtualHost,
		Login: c.Login, Passwd: c.Passwd, Database: c.Database, Secret: c.Secret,
		Command: c.Command, Shell: c.MiscPath, Dynamic: c.Dynamic,
		RunAs: c.RunAs != nil, UID: runAs(c).UID, GID: runAs(c).GID,
		CheckTimeout: c.CheckTimeout, NegotiateTimeout: c.NegotiateTimeout, Count: c.Count,
		VerifyTLS: c.VerifyTLS, StatusCodes: config.NewStatusSet(c.StatusCodes), Digest: c.Digest,
		DNSType: c.DNSType, DNSName: c.DNSName,
		Payload: c.Payload, Reply: c.Reply, RequireReply: c.RequireReply, MinReply: c.MinReply, MaxReply: c.MaxReply,
	}
}

func runAs(c *config.Check) config.RunAs {
	if c.RunAs == nil {
		return config.RunAs{}
	}
	return *c.RunAs
}

// InitFiles writes the init_file of every track_file a FILE_CHECK of cfg
// names, as keepalived's checker does when it reads its configuration:
// at start; at a reload (reload true) only a missing file is created,
// overwrite is not applied again.
func InitFiles(cfg *config.Config, reload bool) []error {
	used := map[*config.TrackFile]bool{}
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			for _, f := range r.Files {
				used[f.Track] = true
			}
		}
	}
	var errs []error
	for _, tf := range cfg.TrackFiles {
		if !used[tf] {
			continue
		}
		t := *tf
		t.Overwrite = t.Overwrite && !reload
		if err := t.WriteInit(); err != nil {
			errs = append(errs, fmt.Errorf("track_file %s: init_file: %w", tf.Name, err))
		}
	}
	return errs
}
