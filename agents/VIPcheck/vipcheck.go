// Package vipcheck is the ocf:lvs:VIPcheck resource agent: a split-brain
// guard placed first in a group before the VIP. start probes every target
// address in parallel with ICMP echo (no ping binary); if any answers, the
// address is alive elsewhere and start fails. monitor only reads the state
// file written by a successful start (it never probes again).
package vipcheck

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/icmp"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// ParseTargets parses target_ip: a comma (or space) separated list of
// addr[%iface], IPv4 or IPv6.
func ParseTargets(s string) ([]icmp.Target, error) {
	var out []icmp.Target
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		t, err := icmp.ParseTarget(f)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address given")
	}
	return out, nil
}

// Answered returns the targets that answered, in input order.
func Answered(res []icmp.Result) []string {
	var alive []string
	for _, r := range res {
		if r.OK {
			alive = append(alive, r.Target.String())
		}
	}
	return alive
}

var Agent = &ocf.Agent{
	Name:  "VIPcheck",
	Short: "Refuse to start when a virtual IP already answers elsewhere",
	Long: "VIPcheck probes the target addresses with ICMP echo, all in parallel, before the " +
		"group it heads starts. If any target answers, the address is alive on another node " +
		"(split brain, or a stale cluster): start fails with a reason naming the address. " +
		"monitor reports the state left by a successful start and never probes again.",
	Params: []ocf.Param{
		{Name: "target_ip", Required: true, Unique: true,
			Short: "Addresses to check",
			Long:  "Comma separated list of addr[%iface] (IPv4 or IPv6) that must NOT answer ICMP echo before start.",
			Check: func(v ocf.Value) error { _, err := ParseTargets(v.Raw); return err }},
		{Name: "count", Type: ocf.Integer, Default: "1",
			Short: "Echo requests per target",
			Long:  "Number of ICMP echo requests sent to each target (one after the other until one is answered).",
			Check: func(v ocf.Value) error {
				if v.Int < 1 || v.Int > 100 {
					return fmt.Errorf("must be between 1 and 100")
				}
				return nil
			}},
		{Name: "wait", Type: ocf.Time, Default: "10",
			Short: "Time to wait for answers",
			Long:  "How long start waits for answers in total (seconds, or with ms/s suffix); each of the count requests waits wait/count.",
			Check: func(v ocf.Value) error {
				if v.Dur <= 0 {
					return fmt.Errorf("must be positive")
				}
				return nil
			}},
	},
	Actions: []ocf.ActionSpec{
		{Name: "start", Timeout: "90s"},
		{Name: "stop", Timeout: "20s"},
		{Name: "monitor", Timeout: "20s", Interval: "10s", Depth: "0"},
		{Name: "meta-data", Timeout: "5s"},
		{Name: "validate-all", Timeout: "20s"},
	},
	Start:   start,
	Stop:    stop,
	Monitor: monitor,
}

func start(c *ocf.Context) error {
	if _, ok := c.ReadState(""); ok {
		return nil
	}
	if err := c.RequireRoot(); err != nil {
		return err
	}
	targets, _ := ParseTargets(c.Params.String("target_ip"))
	count := c.Params.Int("count")
	wait := c.Params.Duration("wait")
	ctx := context.Background()
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout-c.Timeout/10)
		defer cancel()
	}
	t0 := time.Now()
	res := icmp.ProbeAll(ctx, targets, count, wait/time.Duration(count))
	for _, r := range res {
		if r.Err != nil {
			c.Log.Warn("probing %s: %v", r.Target, r.Err)
		}
	}
	if alive := Answered(res); len(alive) > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "%s answered ICMP echo: the address is alive elsewhere, refusing to start", strings.Join(alive, ", "))
	}
	c.Log.Info("no answer from %s within %v; starting", c.Params.String("target_ip"), time.Since(t0).Round(time.Millisecond))
	if err := c.WriteState("", []byte(c.Params.String("target_ip")+"\n")); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "writing state file %s: %v", c.StateFile(""), err)
	}
	return nil
}

func stop(c *ocf.Context) error {
	if err := c.RemoveState(""); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "removing state file %s: %v", c.StateFile(""), err)
	}
	return nil
}

func monitor(c *ocf.Context) error {
	if _, ok := c.ReadState(""); ok {
		return nil
	}
	return ocf.ErrNotRunning
}
