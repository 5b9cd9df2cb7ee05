package check

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// Small hand-written dialogues for the line protocols: each is a handful of
// lines, and a library per protocol would be heavier than the check.

type lineConn struct {
	c net.Conn
	r *bufio.Reader
}

func openLine(ctx context.Context, s *Spec, useTLS bool) (*lineConn, error) {
	c, err := dial(ctx, "tcp", s.HostPort())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if useTLS {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: !s.VerifyTLS, ServerName: s.Addr.String()})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		c = tc
	}
	return &lineConn{c: c, r: bufio.NewReaderSize(c, 1024)}, nil
}

func (l *lineConn) Close() error { return l.c.Close() }

func (l *lineConn) line() (string, error) {
	s, err := l.r.ReadString('\n')
	if err != nil {
		if s != "" && err == io.EOF {
			return strings.TrimRight(s, "\r\n"), nil
		}
		return "", err
	}
	if len(s) > 8192 {
		return "", fmt.Errorf("line too long")
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (l *lineConn) send(format string, a ...any) error {
	_, err := fmt.Fprintf(l.c, format+"\r\n", a...)
	return err
}

// reply reads an SMTP/FTP style reply (multi-line "250-...", last "250 ...").
func (l *lineConn) reply() (int, string, error) {
	var all []string
	for {
		s, err := l.line()
		if err != nil {
			return 0, strings.Join(all, " | "), err
		}
		all = append(all, s)
		if len(s) >= 4 && s[3] == '-' {
			continue
		}
		if len(s) < 3 {
			return 0, s, fmt.Errorf("bad reply %q", s)
		}
		code, err := strconv.Atoi(s[:3])
		if err != nil {
			return 0, s, fmt.Errorf("bad reply %q", s)
		}
		return code, s, nil
	}
}

func expect(l *lineConn, what string, ok func(int) bool) (string, error) {
	code, text, err := l.reply()
	if err != nil {
		return text, fmt.Errorf("%s: %w", what, err)
	}
	if !ok(code) {
		return text, fmt.Errorf("%s: %q", what, text)
	}
	return text, nil
}

func is2xx(c int) bool { return c/100 == 2 }

func checkSMTP(ctx context.Context, s *Spec) (string, error) {
	l, err := openLine(ctx, s, false)
	if err != nil {
		return "", err
	}
	defer l.Close()
	greet, err := expect(l, "smtp greeting", is2xx)
	if err != nil {
		return "", err
	}
	if err := l.send("EHLO %s", localName(l.c)); err != nil {
		return "", err
	}
	if _, err := expect(l, "smtp EHLO", is2xx); err != nil {
		if err := l.send("HELO %s", localName(l.c)); err != nil {
			return "", err
		}
		if _, err := expect(l, "smtp HELO", is2xx); err != nil {
			return "", err
		}
	}
	l.send("QUIT")
	return "smtp: " + trunc(greet), nil
}

func localName(c net.Conn) string {
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		if a.IP.To4() != nil {
			return "[" + a.IP.String() + "]"
		}
		return "[IPv6:" + a.IP.String() + "]"
	}
	return "localhost"
}

func checkPOP(ctx context.Context, s *Spec) (string, error) {
	l, err := openLine(ctx, s, s.Service == "pops")
	if err != nil {
		return "", err
	}
	defer l.Close()
	g, err := l.line()
	if err != nil || !strings.HasPrefix(g, "+OK") {
		return "", fmt.Errorf("pop greeting: %q %v", g, err)
	}
	if s.Login != "" {
		for _, c := range []string{"USER " + s.Login, "PASS " + s.Passwd} {
			if err := l.send("%s", c); err != nil {
				return "", err
			}
			r, err := l.line()
			if err != nil || !strings.HasPrefix(r, "+OK") {
				return "", fmt.Errorf("pop login %s: %q %v", s.Login, r, err)
			}
		}
	}
	l.send("QUIT")
	if s.Login != "" {
		return "pop: logged in as " + s.Login, nil
	}
	return "pop: " + trunc(g), nil
}

func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func checkIMAP(ctx context.Context, s *Spec) (string, error) {
	l, err := openLine(ctx, s, s.Service == "imaps")
	if err != nil {
		return "", err
	}
	defer l.Close()
	g, err := l.line()
	if err != nil || !(strings.HasPrefix(g, "* OK") || strings.HasPrefix(g, "* PREAUTH")) {
		return "", fmt.Errorf("imap greeting: %q %v", g, err)
	}
	if s.Login != "" {
		if err := l.send("a1 LOGIN %s %s", imapQuote(s.Login), imapQuote(s.Passwd)); err != nil {
			return "", err
		}
		for {
			r, err := l.line()
			if err != nil {
				return "", fmt.Errorf("imap login: %w", err)
			}
			if strings.HasPrefix(r, "a1 ") {
				if !strings.HasPrefix(r, "a1 OK") {
					return "", fmt.Errorf("imap login %s: %q", s.Login, r)
				}
				break
			}
		}
	}
	l.send("a2 LOGOUT")
	if s.Login != "" {
		return "imap: logged in as " + s.Login, nil
	}
	return "imap: " + trunc(g), nil
}

func checkNNTP(ctx context.Context, s *Spec) (string, error) {
	c, err := dial(ctx, "tcp", s.HostPort())
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n == 0 {
		return "", fmt.Errorf("nntp greeting: %v", err)
	}
	if buf[0] != '2' {
		return "", fmt.Errorf("nntp greeting %q", trunc(string(buf[:n])))
	}
	return "nntp: " + trunc(string(buf[:n])), nil
}

// checkSIP sends OPTIONS (udp or tcp per the virtual) and wants
// "SIP/2.0 200 OK" as the status line.
func checkSIP(ctx context.Context, s *Spec) (string, error) {
	network := "tcp"
	if s.Protocol == "udp" {
		network = "udp"
	}
	c, err := dial(ctx, network, s.HostPort())
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	la := c.LocalAddr().(interface{ String() string }).String()
	id := make([]byte, 8)
	rand.Read(id)
	via := "UDP"
	if network == "tcp" {
		via = "TCP"
	}
	req := "OPTIONS sip:" + s.Login + " SIP/2.0\r\n" +
		"Via: SIP/2.0/" + via + " " + la + ";branch=z9hG4bK" + hex.EncodeToString(id[:4]) + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:" + s.Login + ">\r\n" +
		"From: <sip:" + s.Login + ">;tag=" + hex.EncodeToString(id[4:]) + "\r\n" +
		"Call-ID: " + hex.EncodeToString(id) + "\r\n" +
		"CSeq: 63104 OPTIONS\r\n" +
		"Contact: <sip:" + s.Login + ">\r\n" +
		"Accept: application/sdp\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return "", fmt.Errorf("sip: %w", err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if n == 0 {
		return "", fmt.Errorf("sip: no answer: %v", err)
	}
	first, _, _ := strings.Cut(string(buf[:n]), "\n")
	first = strings.TrimRight(first, "\r")
	if !strings.HasPrefix(first, "SIP/2.0 200 OK") {
		return "", fmt.Errorf("sip: %q", first)
	}
	return "sip: " + first, nil
}

// checkSimpleTCP sends request ("\n" written as a backslash-n means a
// newline), half-closes, and is up when a line of the answer matches receive.
func checkSimpleTCP(ctx context.Context, s *Spec) (string, error) {
	re, err := s.receivePattern()
	if err != nil {
		return "", err
	}
	c, err := dial(ctx, "tcp", s.HostPort())
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	req := strings.ReplaceAll(strings.TrimPrefix(s.Request, "/"), `\n`, "\n")
	if _, err := io.WriteString(c, req); err != nil {
		return "", fmt.Errorf("simpletcp: %w", err)
	}
	if cw, ok := c.(*ctxConn).Conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	r := bufio.NewReader(io.LimitReader(c, 1<<20))
	for {
		line, err := r.ReadString('\n')
		if line != "" && re.MatchString(line) {
			return "simpletcp: " + trunc(strings.TrimSpace(line)), nil
		}
		if err != nil {
			if err == io.EOF {
				return "", fmt.Errorf("simpletcp: no line matches /%s/", s.Receive)
			}
			return "", fmt.Errorf("simpletcp: %w", err)
		}
	}
}

func trunc(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
