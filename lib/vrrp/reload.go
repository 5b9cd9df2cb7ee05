package vrrp

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// ChangeKind is what a reload does to one instance.
type ChangeKind int

const (
	Keep   ChangeKind = iota // unchanged: state, timers and addresses untouched
	Update                   // same router, new settings: applied in place, state kept
	Remove                   // gone from the file: stopped as on shutdown
	Add                      // new in the file: started as at startup
)

func (k ChangeKind) String() string {
	switch k {
	case Keep:
		return "keep"
	case Update:
		return "update"
	case Remove:
		return "stop"
	case Add:
		return "start"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is the plan for one instance. AddVIPs / RemoveVIPs (Update) are
// the addresses (virtual_ipaddress and _excluded) to add and remove if
// the instance is MASTER; a changed option (label, brd, scope, dev) of an
// address is a remove and an add.
type Change struct {
	Kind                ChangeKind
	Old, New            *config.VRRPInstance
	What                []string // what changed (Update), for the log
	AddVIPs, RemoveVIPs []config.VIP
}

// instKey is what makes two instances the same router across a reload,
// as keepalived's vrrp_exist: the VRID, the family, the interface and
// unicast or not (with unicast, the source too). The name is not part of
// it: a renamed instance keeps its state.
type instKey struct {
	dev     string
	vrid    int
	v6      bool
	unicast bool
	src     netip.Addr
}

func keyOf(ic *config.VRRPInstance) instKey {
	k := instKey{dev: ic.Interface, vrid: ic.VRID, unicast: len(ic.UnicastPeers) > 0}
	if len(ic.VIPs) > 0 {
		k.v6 = ic.VIPs[0].Prefix.Addr().Is6()
	}
	if k.unicast {
		k.src = ic.UnicastSrc
	}
	return k
}

// PlanReload decides, for every instance of the running configuration
// and of the new one, what a reload does: keep, update in place, stop or
// start (keepalived's clear_diff_vrrp). Members of a vrrp_sync_group
// whose definition changed are updated, so they join the new group.
// Pure: the runner applies the plan.
func PlanReload(old, next *config.Config) []Change {
	var out []Change
	used := map[*config.VRRPInstance]bool{}
	match := func(o *config.VRRPInstance) *config.VRRPInstance {
		k := keyOf(o)
		for _, n := range next.VRRP {
			if !used[n] && keyOf(n) == k {
				used[n] = true
				return n
			}
		}
		return nil
	}
	groups := changedGroups(old, next)
	for _, o := range old.VRRP {
		n := match(o)
		if n == nil {
			out = append(out, Change{Kind: Remove, Old: o})
			continue
		}
		c := Change{Kind: Keep, Old: o, New: n}
		c.What = instanceDiff(o, n)
		g := groups[n.Name]
		if g == "" {
			g = groups[o.Name]
		}
		if g != "" && len(c.What) == 0 {
			c.What = []string{"vrrp_sync_group " + g}
		}
		c.AddVIPs = vipDiff(all(n), all(o))
		c.RemoveVIPs = vipDiff(all(o), all(n))
		if len(c.What) > 0 {
			c.Kind = Update
		}
		out = append(out, c)
	}
	for _, n := range next.VRRP {
		if !used[n] {
			out = append(out, Change{Kind: Add, New: n})
		}
	}
	return out
}

// changedGroups maps the names of the instances that were or are members
// of a sync group whose definition changed to that group's name.
func changedGroups(old, next *config.Config) map[string]string {
	strip := func(gs []*config.SyncGroup) map[string]config.SyncGroup {
		m := map[string]config.SyncGroup{}
		for _, g := range gs {
			x := *g
			x.Line = 0
			m[g.Name] = x
		}
		return m
	}
	a, b := strip(old.SyncGroups), strip(next.SyncGroups)
	out := map[string]string{}
	mark := func(g config.SyncGroup) {
		for _, m := range g.Members {
			out[m] = g.Name
		}
	}
	for name, g := range a {
		if h, ok := b[name]; !ok || !reflect.DeepEqual(g, h) {
			mark(g)
			if ok {
				mark(h)
			}
		}
	}
	for name, h := range b {
		if _, ok := a[name]; !ok {
			mark(h)
		}
	}
	return out
}

func all(ic *config.VRRPInstance) []config.VIP {
	return append(append([]config.VIP(nil), ic.VIPs...), ic.Excluded...)
}

// vipDiff is a - b, comparing addresses with their options (not lines).
func vipDiff(a, b []config.VIP) []config.VIP {
	var out []config.VIP
next:
	for _, x := range a {
		for _, y := range b {
			if sameVIP(x, y) {
				continue next
			}
		}
		out = append(out, x)
	}
	return out
}

func sameVIP(x, y config.VIP) bool {
	x.Line, y.Line = 0, 0
	return x == y
}

// instanceDiff names the settings that differ, in keepalived's words
// (empty: the instance is unchanged, line numbers aside).
func instanceDiff(o, n *config.VRRPInstance) []string {
	var what []string
	add := func(cond bool, f string, a ...any) {
		if cond {
			what = append(what, fmt.Sprintf(f, a...))
		}
	}
	add(o.Name != n.Name, "name %s -> %s", o.Name, n.Name)
	add(o.Priority != n.Priority, "priority %d -> %d", o.Priority, n.Priority)
	add(o.AdvertInt != n.AdvertInt, "advert_int %s -> %s", o.AdvertInt, n.AdvertInt)
	add(o.Version != n.Version, "version %d -> %d", o.Version, n.Version)
	add(len(vipDiff(o.VIPs, n.VIPs))+len(vipDiff(n.VIPs, o.VIPs)) > 0, "virtual_ipaddress")
	add(len(vipDiff(o.Excluded, n.Excluded))+len(vipDiff(n.Excluded, o.Excluded)) > 0, "virtual_ipaddress_excluded")
	add(!reflect.DeepEqual(o.TrackScripts, n.TrackScripts), "track_script")
	add(!reflect.DeepEqual(o.TrackInterfaces, n.TrackInterfaces), "track_interface")
	add(!reflect.DeepEqual(o.TrackFiles, n.TrackFiles), "track_file")
	// everything else, in one word
	strip := func(c *config.VRRPInstance) config.VRRPInstance {
		x := *c
		x.Line, x.Name, x.Priority, x.AdvertInt, x.Version = 0, "", 0, 0, 0
		x.VIPs, x.Excluded, x.VirtualIPs, x.VirtualIPDevs = nil, nil, nil, nil
		x.TrackScripts, x.TrackInterfaces, x.TrackFiles = nil, nil, nil
		return x
	}
	add(!reflect.DeepEqual(strip(o), strip(n)), "other settings")
	return what
}

// Reload applies a new configuration's VRRP part as keepalived's reload
// does (PlanReload): unchanged instances keep their state, timers and
// addresses and nothing is sent for them; changed ones take the new
// settings in place (a master adds and announces the addresses added,
// removes those removed); removed ones stop as on shutdown (priority-0
// advert, addresses removed, notify_stop); new ones start as at startup.
// What can fail (an interface that does not exist, a socket) is done
// first: on an error nothing changed and the running configuration goes
// on. It returns one line per instance not kept, for the log.
func (r *Router) Reload(next *config.Config) ([]string, error) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.mu.Lock()
	ctx, old := r.ctx, r.cfg
	r.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return nil, fmt.Errorf("VRRP is not running (starting or stopping): not reloaded")
	}
	if errs := checkInterfaces(next, r.o.Link); len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	plan := PlanReload(old, next)
	of := map[*config.VRRPInstance]*inst{}
	var added []*inst
	for _, c := range plan {
		if c.Kind == Add {
			in := newInst(r, c.New)
			in.reloaded = true
			added = append(added, in)
			of[c.New] = in
		}
	}
	// sockets for the new instances: the last thing that can fail
	r.mu.Lock()
	opened, err := r.placeSockets(added)
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var lines []string
	// 1. removed instances stop (their addresses go before another
	// instance may add them)
	for _, c := range plan {
		if c.Kind != Remove {
			continue
		}
		in := r.of[c.Old]
		if r.o.OnRemove != nil {
			r.o.OnRemove(c.Old.Name)
		}
		in.stop()
		<-in.done
		r.mu.Lock()
		if in.sock.remove(in) {
			in.sock.s.Close()
			delete(r.sockets, in.sock.key)
		}
		r.mu.Unlock()
		lines = append(lines, fmt.Sprintf("vrrp: %s: removed from the configuration: stopped", c.Old.Name))
	}
	if r.o.OnReload != nil {
		r.o.OnReload(next)
	}
	// 2. masters drop the addresses the reload takes away, all of them
	// before any is added (an address may move between instances)
	for _, c := range plan {
		if c.Kind == Update && len(c.RemoveVIPs) > 0 {
			in := r.of[c.Old]
			in.call(func() { in.dropVIPs(c) })
		}
	}
	for _, c := range plan {
		if c.Kind == Keep || c.Kind == Update {
			of[c.New] = r.of[c.Old]
		}
	}
	// 3. sync groups: made again when one changed or a member came or
	// went; each member's own fault is read first, so the new group
	// starts with the whole picture and no member leaves FAULT for a
	// moment
	regroup := len(changedGroups(old, next)) > 0
	for _, c := range plan {
		if c.Kind == Add || c.Kind == Remove {
			for _, g := range append(append([]*config.SyncGroup(nil), old.SyncGroups...), next.SyncGroups...) {
				for _, m := range g.Members {
					if (c.Old != nil && m == c.Old.Name) || (c.New != nil && m == c.New.Name) {
						regroup = true
					}
				}
			}
		}
	}
	var groups []*group
	if regroup {
		groups = buildGroups(r, next, of, r.groups)
		for _, g := range groups {
			g.faulty = map[*inst]bool{}
			for _, m := range g.members {
				if m.reloaded {
					continue // not started: it tells the group itself
				}
				own := false
				m.call(func() { own = m.ownFault() })
				g.faulty[m] = own
			}
		}
	}
	// 4. changed instances take their settings (and their group)
	member := map[*inst]*group{}
	for _, g := range groups {
		for _, m := range g.members {
			member[m] = g
		}
	}
	for _, c := range plan {
		if c.Kind != Keep && c.Kind != Update {
			continue
		}
		in := r.of[c.Old]
		if regroup {
			g := member[in]
			in.call(func() { in.setGroup(g) })
		}
		if c.Kind == Update {
			in.call(func() { in.reconfigure(c) })
			lines = append(lines, fmt.Sprintf("vrrp: %s: updated in place (%s)", c.New.Name, strings.Join(c.What, ", ")))
		}
	}
	for _, in := range added {
		in.group = member[in]
	}
	// 5. the trackers again, over the new set (results carried over),
	// then the new instances
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trk.stop()
	var insts []*inst
	for _, ic := range next.VRRP {
		insts = append(insts, of[ic])
	}
	var newFiles []*config.TrackFile
	for _, f := range next.TrackFiles {
		known := false
		for _, o := range old.TrackFiles {
			known = known || o.Name == f.Name
		}
		if !known {
			newFiles = append(newFiles, f)
		}
	}
	initTrackFiles(newFiles, r.o.Logf)
	r.trk = newTrackers(r, insts, next, r.trk)
	r.trk.start()
	for _, s := range opened {
		r.sockets[s.key] = s
		go s.read()
	}
	for _, in := range added {
		r.startInst(in)
		lines = append(lines, fmt.Sprintf("vrrp: %s: new in the configuration: started", in.cfg.Name))
	}
	r.insts, r.of, r.cfg = insts, of, next
	if regroup {
		r.groups = groups
	}
	// vrrp_rt_priority is the process's, set by the daemon (SetRTPriority)
	return lines, nil
}

// setGroup puts the instance in the sync group g (nil: none) after a
// reload, on its goroutine: g already knows every member's own fault,
// so the news it sends back is the whole group's.
func (in *inst) setGroup(g *group) {
	in.group = g
	delete(in.values, "group")
	if g != nil {
		g.fault(in, in.faulted)
		in.ownFaulted = in.ownFault()
	}
	if in.state.Role != Init {
		in.reevaluate("group", false)
	}
}
