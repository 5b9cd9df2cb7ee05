package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// receiveRE compiles a receive pattern once, for Specs not made by SpecFor
// (whose pattern lib/config compiled when it read the file, rejecting what
// RE2 does not accept: ldirectord's are Perl regexes, Go's RE2 takes the
// common subset, no backreferences or lookaround).
var reCache sync.Map

func receiveRE(pat string) (*regexp.Regexp, error) {
	if v, ok := reCache.Load(pat); ok {
		return v.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("receive %q: %v", pat, err)
	}
	reCache.Store(pat, re)
	return re, nil
}

type proxyKey struct{}

// One transport per TLS mode, shared by all checks. No keep-alive: each
// check opens a new connection, as ldirectord does, so a real whose
// listener died is seen at once and 10,000 reals don't hold 10,000 idle fds.
func newTransport(verify bool, serverName string) *http.Transport {
	return &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			u, _ := r.Context().Value(proxyKey{}).(*url.URL)
			return u, nil
		},
		DialContext:            dial,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: !verify, ServerName: serverName},
		MaxResponseHeaderBytes: 64 << 10,
	}
}

var clients = map[bool]*http.Client{
	false: {Transport: newTransport(false, "")},
	true:  {Transport: newTransport(true, "")},
}

// CheckURL is the URL an http/https/http_proxy check requests: the request
// itself when it is an absolute URL, else scheme://rip:port/request.
func CheckURL(s *Spec) string {
	if strings.HasPrefix(s.Request, "http://") || strings.HasPrefix(s.Request, "https://") {
		return s.Request
	}
	scheme := "http"
	if s.Service == "https" {
		scheme = "https"
	}
	return scheme + "://" + s.HostPort() + "/" + strings.TrimPrefix(s.Request, "/")
}

// httpTarget is what every http check path asks: the URL, the method,
// and for http_proxy the context naming the proxy (the real).
func httpTarget(ctx context.Context, s *Spec) (context.Context, string, string, error) {
	u := CheckURL(s)
	method := s.HTTPMethod
	if method == "" {
		method = "GET"
	}
	if s.Service == "http_proxy" {
		// the real is the proxy; the request must name the origin.
		ctx = context.WithValue(ctx, proxyKey{}, &url.URL{Scheme: "http", Host: s.HostPort()})
		if !strings.Contains(s.Request, "://") {
			return ctx, u, method, fmt.Errorf("http_proxy: request %q is not an absolute http:// URL", s.Request)
		}
	}
	return ctx, u, method, nil
}

func checkHTTP(ctx context.Context, s *Spec) (string, error) {
	ctx, u, method, err := httpTarget(ctx, s)
	if err != nil {
		return "", err
	}
	if s.Service == "http" && strings.HasPrefix(u, "http://") {
		// The common case, without net/http's transport (two goroutines and
		// buffers per connection): a third of the CPU per check. Redirects
		// are left to net/http below. (A literal address does not come
		// here: the poller runs those, poll.go.)
		code, status, body, err := fastGET(ctx, s, method, u)
		if err != nil {
			return "", fmt.Errorf("http: %v", err)
		}
		if code < 300 || code > 399 || !s.StatusCodes.Empty() { // keepalived does not follow redirects
			return judgeHTTP(s, u, code, status, body)
		}
	}
	return httpClientGET(ctx, s, u, method)
}

// checkHTTPClient is an http check by net/http alone: https, http_proxy,
// and the redirects the fast paths leave to it.
func checkHTTPClient(ctx context.Context, s *Spec) (string, error) {
	ctx, u, method, err := httpTarget(ctx, s)
	if err != nil {
		return "", err
	}
	return httpClientGET(ctx, s, u, method)
}

func httpClientGET(ctx context.Context, s *Spec, u, method string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return "", fmt.Errorf("http: %v", err)
	}
	if s.Service != "http_proxy" {
		if s.VirtualHost != "" {
			req.Host = s.VirtualHost
		} else if h, _, err := net.SplitHostPort(req.URL.Host); err == nil {
			req.Host = h // ldirectord sends the bare address, no port
		}
	}
	req.Header.Set("User-Agent", "ocf-lvs-check")
	resp, err := clientFor(s).Do(req)
	if err != nil {
		return "", fmt.Errorf("http: %v", unwrapURLErr(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("http: reading body: %v", err)
	}
	return judgeHTTP(s, u, resp.StatusCode, resp.Status, body)
}

// judgeHTTP applies status ranges, digest and receive to a response.
func judgeHTTP(s *Spec, u string, code int, status string, body []byte) (string, error) {
	if !statusOK(code, s.StatusCodes) {
		return "", fmt.Errorf("HTTP %s from %s", status, u)
	}
	if s.Digest != "" {
		sum := md5.Sum(body)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, s.Digest) {
			return "", fmt.Errorf("HTTP %s: body digest %s, want %s", status, got, s.Digest)
		}
	}
	if s.Receive != "" {
		re, err := s.receivePattern()
		if err != nil {
			return "", err
		}
		if !re.Match(body) {
			return "", fmt.Errorf("HTTP %s: receive /%s/ not in body (%d bytes)", status, s.Receive, len(body))
		}
	}
	if status == "200 OK" { // the common answer, without an allocation per check
		return "HTTP 200 OK", nil
	}
	return "HTTP " + status, nil
}

// fastGET sends one HTTP/1.1 request with Connection: close on a fresh
// connection and reads the response (Content-Length, chunked or to EOF).
func fastGET(ctx context.Context, s *Spec, method, rawURL string) (int, string, []byte, error) {
	pu, err := url.Parse(rawURL)
	if err != nil {
		return 0, "", nil, err
	}
	hostport := pu.Host
	if pu.Port() == "" {
		hostport = net.JoinHostPort(pu.Hostname(), "80")
	}
	host := s.VirtualHost
	if host == "" {
		host = pu.Hostname()
	}
	c, err := dialFast(ctx, hostport)
	if err != nil {
		return 0, "", nil, err
	}
	defer c.Close() // with a reset: the answer is read, or the check failed
	if _, err := c.Write(httpRequest(method, pu.RequestURI(), host)); err != nil {
		return 0, "", nil, err
	}
	return readHTTPResponse(c, method)
}

// clientFor: SNI must name the virtual host when one is given; those
// (rare) checks get their own client, the rest share two.
var sniClients sync.Map

func clientFor(s *Spec) *http.Client {
	if s.Service != "https" || s.VirtualHost == "" {
		return clients[s.VerifyTLS]
	}
	k := strconv.FormatBool(s.VerifyTLS) + s.VirtualHost
	if c, ok := sniClients.Load(k); ok {
		return c.(*http.Client)
	}
	c := &http.Client{Transport: newTransport(s.VerifyTLS, s.VirtualHost)}
	sniClients.Store(k, c)
	return c
}

func unwrapURLErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// statusOK: ldirectord wants 2xx (after redirects); keepalived's
// status_code lists the codes (typed when the file was read).
func statusOK(code int, codes config.StatusSet) bool {
	if codes.Empty() {
		return code >= 200 && code <= 299
	}
	return codes.Has(code)
}
