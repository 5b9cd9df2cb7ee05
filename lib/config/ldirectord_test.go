package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeResolver knows a few names, so tests never touch DNS.
func fakeResolver(host string, v6 bool) ([]netip.Addr, error) {
	m := map[string]string{"web1": "10.0.0.1", "web3": "10.0.0.3", "www.example.com": "192.0.2.80",
		"localhost": "127.0.0.1", "sql01": "10.1.0.1", "sql03": "10.1.0.3"}
	m6 := map[string]string{"localhost": "::1", "www.example.com": "2001:db8::80"}
	if v6 {
		m = m6
	}
	if a, ok := m[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, errors.New("no such host")
}

func parseLD(t *testing.T, src string) (*Config, error) {
	t.Helper()
	return ParseWith("test.cf", []byte(src), Options{Resolver: fakeResolver})
}

func TestLdirectordBasics(t *testing.T) {
	c, err := parseLD(t, `checktimeout=3
negotiatetimeout=20
virtual=192.168.6.240:www
	real=web1->web3:80 masq 5 "/a", "b" l:5 u:10
	real=10.0.0.9 gate
	service=http
	checktimeout=7
virtual=10.0.0.1:domain
	real=10.0.0.2:53 gate
	request="www.example.com"
	receive="192\.0\.2\."
virtual6=[2001:db8::1]:443
	real6=[2001:db8::2]:443 masq
	fallback6=[::1]
virtual=7
	real=10.0.0.2 ipip 0
`)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Virtuals[0]
	if v.Port != 80 || v.Protocol != "tcp" || len(v.Reals) != 4 {
		t.Fatalf("virtual 0: %+v", v)
	}
	r := v.Reals[1]
	if r.Addr.String() != "10.0.0.2" || r.Forward != "masq" || r.Weight != 5 || r.Request != "/a" || r.Receive != "b" || r.Lower != 5 || r.Upper != 10 {
		t.Fatalf("real: %+v", r)
	}
	if v.Reals[3].Port != 80 {
		t.Fatalf("real without port takes the virtual's port: %+v", v.Reals[3])
	}
	if v.Check.CheckTimeout != 7*time.Second || v.Check.NegotiateTimeout != 7*time.Second {
		t.Fatalf("timeouts %v %v", v.Check.CheckTimeout, v.Check.NegotiateTimeout)
	}
	if c.Virtuals[1].Protocol != "udp" || c.Virtuals[1].Check.Service != "dns" || c.Virtuals[1].Check.CheckTimeout != 3*time.Second || c.Virtuals[1].Check.NegotiateTimeout != 20*time.Second {
		t.Fatalf("dns virtual: %+v", c.Virtuals[1])
	}
	if f := c.Virtuals[2].Fallback; f == nil || f.Addr.String() != "::1" || f.Port != 443 {
		t.Fatalf("fallback6: %+v", f)
	}
	if v := c.Virtuals[3]; v.Protocol != "fwm" || v.FWMark != 7 || v.Reals[0].Port != 0 || v.Reals[0].Weight != 0 {
		t.Fatalf("fwm: %+v %+v", v, v.Reals[0])
	}
}

func TestLdirectordErrorsCollected(t *testing.T) {
	_, err := parseLD(t, "bogus=1\nvirtual=1.2.3.4:80\n\treal=1.2.3.5:80 nat\n\tquiescent=maybe\n")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, want := range []string{"test.cf:1: unknown directive", "test.cf:3: forward method", "test.cf:4: quiescent must be"} {
		if !strings.HasPrefix(errs[i].String(), want) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], want)
		}
	}
}

// TestTimeoutResolution walks every level of ldirectord's ld_setup rule.
func TestTimeoutResolution(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		vc, vn, gc, gn time.Duration
		check, neg     time.Duration
	}{
		{0, 0, 0, 0, 5 * s, 30 * s},
		{7 * s, 0, 3 * s, 20 * s, 7 * s, 7 * s},
		{0, 9 * s, 3 * s, 20 * s, 9 * s, 9 * s},
		{0, 0, 3 * s, 20 * s, 3 * s, 20 * s},
		{0, 0, 3 * s, 0, 3 * s, 3 * s},
		{0, 0, 0, 20 * s, 20 * s, 20 * s},
		{2 * s, 8 * s, 3 * s, 20 * s, 2 * s, 8 * s},
	} {
		ct, nt := ResolveTimeouts(c.vc, c.vn, c.gc, c.gn)
		if ct != c.check || nt != c.neg {
			t.Errorf("%v: got %v/%v, want %v/%v", c, ct, nt, c.check, c.neg)
		}
	}
	// the ldirectord reader applies the same rule
	cfg, err := parseLD(t, "negotiatetimeout=20\nvirtual=www.example.com:http\n\treal=web1 gate\n\tchecktimeout=4\n")
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Virtuals[0]
	if v.Addr.String() != "192.0.2.80" || v.Port != 80 || v.Check.CheckTimeout != 4*s || v.Check.NegotiateTimeout != 4*s {
		t.Fatalf("%s: %v/%v", v.Key(), v.Check.CheckTimeout, v.Check.NegotiateTimeout)
	}
}

// TestLdirectordKeysKnown: every name the did-you-mean offers is a
// directive the reader takes (the lists follow globalLine and virtualLine).
func TestLdirectordKeysKnown(t *testing.T) {
	for _, k := range ldGlobalKeys {
		_, err := ParseWith("x.cf", []byte(k+"=x\n"), testOptions())
		if err != nil && strings.Contains(err.Error(), "unknown directive") {
			t.Errorf("global %s: %v", k, err)
		}
	}
	for _, k := range ldVirtualKeys {
		_, err := ParseWith("x.cf", []byte("virtual=192.0.2.1:80\n    "+k+"=x\n"), testOptions())
		if err != nil && strings.Contains(err.Error(), "unknown directive") {
			t.Errorf("virtual %s: %v", k, err)
		}
	}
}
