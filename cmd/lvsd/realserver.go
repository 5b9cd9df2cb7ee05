package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/realserver"
)

func init() {
	register(subcommand{name: "realserver", summary: "set this host up as an LVS-DR or LVS-TUN real server (VIPs on lo, ARP sysctls)", run: runRealserver})
}

// realserverState is where the command keeps the previous sysctl values.
const realserverState = "/run/lvsd/realserver.json"

const realserverHelp = `usage: lvsd realserver up|down|status [--tunnel] [--interfaces LIST] [--state FILE] VIP...

Makes this host a real server of an LVS director in direct routing (DR,
gate) or tunnelling (TUN, ipip) mode: what the DR how-tos do by hand with
ifconfig lo:0 and sysctl.conf (docs/realserver.md).

  up      puts each VIP on lo as a host address (/32, or /128 nodad), and
          for IPv4 VIPs sets net.ipv4.conf.{all,lo,IFACE}.arp_ignore=1 and
          arp_announce=2, so that this host never answers ARP for a VIP nor
          uses one as an ARP source (the director must get the VIP's
          traffic). IFACE: the interfaces of the IPv4 default routes, or
          --interfaces. Values that already do the job (arp_ignore 2 or 8)
          are left alone. With --tunnel the VIPs go on tunl0 (IPv4, module
          ipip) or ip6tnl0 (IPv6, module ip6_tunnel), brought up, and
          net.ipv4.conf.tunl0.rp_filter is set to 2 (loose) unless it is 0:
          the decapsulated packets come in on tunl0 from a client whose
          route goes out another interface. The values replaced are kept in
          the state file; up again changes nothing.
  down    removes the VIPs (none given: every VIP of the state file) from lo
          and the tunnel devices; when no VIP of the state file is left,
          puts back every sysctl up changed (unless changed since) and takes
          down a tunnel device up brought up. Down again does nothing.
  status  checks each VIP and setting (none given: the state file's).

Options may come before or after the VIPs. VIPs are separated by spaces
or commas.

Exit status: 0 done / running, 7 (status) stopped: no VIP in place,
1 failure, or (status) partial: some of it in place, what is missing on
stderr; 2 usage error or bad VIP; 4 up or down without root.

options:
`

func runRealserver(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tunnel := fs.Bool("tunnel", false, "LVS-TUN (ipip): the VIPs on tunl0 / ip6tnl0, rp_filter relaxed on tunl0")
	ifaces := fs.String("interfaces", "", "comma-separated interfaces that get arp_ignore/arp_announce besides all and lo (default: the IPv4 default routes' interfaces)")
	state := fs.String("state", realserverState, "state file (the previous sysctl values)")
	words, code, done := parseInterleaved(fs, realserverHelp, args, stdout)
	if done {
		return code
	}
	if len(words) == 0 {
		fmt.Fprintln(stderr, "lvsd realserver: up, down or status?")
		printUsage(stderr, fs, realserverHelp)
		return 2
	}
	verb, rest := words[0], words[1:]
	if verb != "up" && verb != "down" && verb != "status" {
		fmt.Fprintf(stderr, "lvsd realserver: unknown action %q (up, down or status)\n", verb)
		return 2
	}
	cfg := realserver.Config{Tunnel: *tunnel}
	if len(rest) > 0 || verb == "up" {
		v, err := realserver.ParseVIPs(rest...)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd realserver %s: %v\n", verb, err)
			return 2
		}
		cfg.VIPs = v
	}
	if *ifaces != "" {
		for _, d := range strings.FieldsFunc(*ifaces, func(r rune) bool { return r == ',' || r == ' ' }) {
			if err := realserver.CheckIfName(d); err != nil {
				fmt.Fprintf(stderr, "lvsd realserver: --interfaces: %v\n", err)
				return 2
			}
			cfg.Interfaces = append(cfg.Interfaces, d)
		}
	}
	h := &realserver.Helper{K: realserver.System{}, StateFile: *state,
		Log: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "lvsd realserver %s: %v\n", verb, err)
		return 1
	}
	if verb != "status" && os.Geteuid() != 0 {
		fmt.Fprintf(stderr, "lvsd realserver %s: needs root\n", verb)
		return 4
	}
	var err error
	if cfg, err = h.Fill(cfg); err != nil {
		return fail(err)
	}
	switch verb {
	case "up":
		if err := h.Up(cfg); err != nil {
			return fail(err)
		}
		return 0
	case "down":
		if err := h.Down(cfg); err != nil {
			return fail(err)
		}
		return 0
	}
	if len(cfg.VIPs) == 0 {
		fmt.Fprintln(stdout, "stopped (no VIP given, none in "+*state+")")
		return 7
	}
	r, err := h.Status(cfg)
	if err != nil {
		return fail(err)
	}
	for _, l := range r.Lines() {
		fmt.Fprintln(stdout, l)
	}
	res := r.Result()
	fmt.Fprintln(stdout, res)
	switch res {
	case realserver.Stopped:
		return 7
	case realserver.Partial:
		fmt.Fprintf(stderr, "lvsd realserver status: partial: %s\n", strings.Join(r.Problems(), "; "))
		return 1
	}
	return 0
}
