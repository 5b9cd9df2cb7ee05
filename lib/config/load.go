package config

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Resolver turns a host name into addresses of one family (v6 false: IPv4).
// ldirectord resolves names once, when it reads the file; so do we.
type Resolver func(host string, v6 bool) ([]netip.Addr, error)

// DefaultResolver uses the system resolver (/etc/hosts, then DNS) with a
// bound on the time one name may take.
func DefaultResolver(host string, v6 bool) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	netw := "ip4"
	if v6 {
		netw = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, netw, host)
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, err
}

// Options tune how a file is read. The zero value is what Load uses.
type Options struct {
	Resolver Resolver // nil: DefaultResolver
	// ReadFile reads included files (keepalived `include`); nil: os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// Glob expands include patterns; nil: filepath.Glob.
	Glob func(string) ([]string, error)
	// ConfigID selects keepalived's `@id` conditional lines (keepalived -i);
	// "": the host name up to its first dot, as keepalived.
	ConfigID string
	// NoVRRP leaves the VRRP part out (vrrp_instance, vrrp_sync_group,
	// their scripts and files, lvs_sync_daemon), each instance warned
	// about: under Pacemaker the cluster owns the addresses (ocf:lvs:VIP),
	// and a director that also ran VRRP would fight it for them.
	NoVRRP bool
}

func (o *Options) fill() {
	if o.Resolver == nil {
		o.Resolver = DefaultResolver
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Glob == nil {
		o.Glob = filepath.Glob
	}
	if o.ConfigID == "" {
		h, _ := os.Hostname()
		o.ConfigID, _, _ = strings.Cut(h, ".")
	}
}

// Load reads a configuration file in any supported format (detected from
// its content, see Detect). On failure the error is Errors.
func Load(path string) (*Config, error) {
	return LoadWith(path, Options{})
}

// LoadWith is Load with options.
func LoadWith(path string, o Options) (*Config, error) {
	o.fill()
	data, err := o.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return ParseWith(path, data, o)
}

// Parse reads a configuration from bytes; name is used in messages and to
// detect the format (and, for keepalived, to resolve relative includes).
func Parse(name string, data []byte) (*Config, error) {
	return ParseWith(name, data, Options{})
}

// ParseWith is Parse with options.
func ParseWith(name string, data []byte, o Options) (*Config, error) {
	o.fill()
	if errs := checkUTF8(name, data); errs != nil {
		return nil, errs
	}
	var cfg *Config
	var err error
	switch Detect(name, data) {
	case "toml":
		cfg, err = parseTOML(name, data, o)
	case "keepalived":
		cfg, err = parseKeepalived(name, data, o)
	default:
		cfg, err = parseLdirectord(name, data, o)
	}
	if err == nil && o.NoVRRP {
		withoutVRRP(cfg)
	}
	return cfg, err
}

// withoutVRRP is Options.NoVRRP.
func withoutVRRP(cfg *Config) {
	for _, in := range cfg.VRRP {
		cfg.Warnings = append(cfg.Warnings, Diag{File: cfg.Source, Line: in.Line,
			Msg: fmt.Sprintf("vrrp_instance %s not run: VRRP is off here (the cluster owns the addresses: ocf:lvs:VIP); only the virtual servers are", in.Name)})
	}
	if l := cfg.LVSSync; l != nil {
		cfg.Warnings = append(cfg.Warnings, Diag{File: cfg.Source, Line: l.Line, Msg: "lvs_sync_daemon not run: VRRP is off here"})
	}
	cfg.VRRP, cfg.SyncGroups, cfg.Scripts, cfg.TrackFiles, cfg.LVSSync = nil, nil, nil, nil, nil
	cfg.Warnings = sorted(cfg.Warnings)
}

var (
	reEqLine    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*6?\s*=`)
	reTOMLTable = regexp.MustCompile(`^\s*\[\[?\s*[A-Za-z_][A-Za-z0-9_.]*\s*\]\]?\s*(#.*)?$`)
	kaTopLevel  = map[string]bool{"global_defs": true, "vrrp_instance": true, "vrrp_sync_group": true,
		"vrrp_script": true, "virtual_server": true, "virtual_server_group": true, "include": true,
		"static_ipaddress": true, "static_routes": true, "static_rules": true, "linkbeat_interfaces": true,
		"track_file": true, "vrrp_track_file": true, "garp_group": true}
)

// Detect names the format of a configuration: "toml", "keepalived" or
// "ldirectord". A .toml name or a [table] header means TOML; a file whose
// first statement is a keepalived block keyword, or with more `{` lines than
// `key=value` lines, is keepalived.conf; anything else is ldirectord.cf.
func Detect(name string, data []byte) string {
	if strings.HasSuffix(strings.ToLower(name), ".toml") {
		return "toml"
	}
	eq, brace, first := 0, 0, ""
	seen := 0
	for len(data) > 0 && seen < 200 { // the head of a file tells
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line := strings.TrimSpace(string(raw))
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		seen++
		if reTOMLTable.MatchString(line) {
			return "toml"
		}
		if first == "" {
			first = strings.Fields(line)[0]
		}
		if reEqLine.MatchString(line) {
			eq++
		}
		if strings.HasSuffix(line, "{") || line == "}" {
			brace++
		}
	}
	if kaTopLevel[first] || brace > eq {
		return "keepalived"
	}
	return "ldirectord"
}

// checkUTF8 rejects values that are not UTF-8 (TOML cannot carry them and
// the plan would print them mangled); comment lines may hold anything.
func checkUTF8(name string, data []byte) Errors {
	if utf8.Valid(data) {
		return nil
	}
	var errs Errors
	for i, line := range bytes.Split(data, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if utf8.Valid(line) || len(t) > 0 && (t[0] == '#' || t[0] == '!') {
			continue
		}
		if len(errs) < maxErrors {
			errs = append(errs, Diag{File: name, Line: i + 1, Msg: "invalid UTF-8 outside a comment (save the file as UTF-8)"})
		}
	}
	return errs
}
