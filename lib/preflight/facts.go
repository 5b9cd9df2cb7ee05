package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
)

// ReadFacts reads the Facts of the calling thread's network namespace:
// /proc/sys for the sysctls, /proc/thread-self/net for IPVS and netlink for
// the interface addresses. It needs no privilege. What cannot be read is
// left unknown (and, unless it simply does not exist, listed in Errors).
func ReadFacts() Facts {
	return readFacts("/proc", listAddrs)
}

// listAddrs lists every interface address of both families.
func listAddrs() ([]Addr, error) {
	var out []Addr
	for _, fam := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		as, err := addr.Addresses(fam)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			out = append(out, Addr{Dev: a.Dev, Prefix: a.Prefix})
		}
	}
	return out, nil
}

// readFacts is ReadFacts over a /proc tree and an address lister.
func readFacts(proc string, list func() ([]Addr, error)) Facts {
	var f Facts
	// /proc/net is /proc/self/net, the namespace of the process's main
	// thread; thread-self is the caller's (Linux 3.17 and later).
	netDir := filepath.Join(proc, "thread-self/net")
	if _, err := os.Stat(netDir); err != nil {
		netDir = filepath.Join(proc, "net")
	}
	if _, err := os.Stat(netDir); err != nil {
		f.Errors = append(f.Errors, err)
	} else {
		_, err := os.Stat(filepath.Join(netDir, "ip_vs"))
		switch {
		case err == nil:
			f.IPVS = Known(true)
		case errors.Is(err, fs.ErrNotExist):
			f.IPVS = Known(false)
		default:
			f.Errors = append(f.Errors, err)
		}
	}
	sys := filepath.Join(proc, "sys/net")
	f.V4.Forwarding = readBool(&f, filepath.Join(sys, "ipv4/ip_forward"))
	f.V6.Forwarding = readBool(&f, filepath.Join(sys, "ipv6/conf/all/forwarding"))
	f.V4.GCThresh3 = readInt(&f, filepath.Join(sys, "ipv4/neigh/default/gc_thresh3"))
	f.V6.GCThresh3 = readInt(&f, filepath.Join(sys, "ipv6/neigh/default/gc_thresh3"))
	if ifs, err := net.Interfaces(); err != nil {
		f.Errors = append(f.Errors, fmt.Errorf("interfaces: %w", err))
	} else {
		names := make([]string, 0, len(ifs))
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		f.Links = Known(names)
	}
	if as, err := list(); err != nil {
		f.Errors = append(f.Errors, fmt.Errorf("interface addresses: %w", err))
	} else {
		f.Addrs = Known(as)
	}
	return f
}

// readInt reads a one-number sysctl. A missing file is unknown without an
// error: IPv6 disabled, or gc_thresh3 outside the initial namespace.
func readInt(f *Facts, path string) Fact[int] {
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.Errors = append(f.Errors, err)
		}
		return Fact[int]{}
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		f.Errors = append(f.Errors, fmt.Errorf("%s: %q is not a number", path, strings.TrimSpace(string(b))))
		return Fact[int]{}
	}
	return Known(n)
}

// readBool reads a 0/1 sysctl (any non-zero value is on, as the kernel
// reads it).
func readBool(f *Facts, path string) Fact[bool] {
	n := readInt(f, path)
	return Fact[bool]{V: n.V != 0, OK: n.OK}
}
