package check

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadHTTPResponse(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, c := range []struct {
		name, in, method string
		code             int
		status, body     string
		err              string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello+extra", "GET", 200, "200 OK", "hello", ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "GET", 200, "200 OK", "abcde", ""},
		{"to EOF", "HTTP/1.0 404 Not Found\r\n\r\nnope", "GET", 404, "404 Not Found", "nope", ""},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", 200, "200 OK", "ok", ""},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", 200, "200 OK", "", ""},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", "GET", 204, "204 No Content", "", ""},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, "200", "", ""},
		{"long header", "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\nContent-Length: 1\r\n\r\nz", "GET", 200, "200 OK", "z", ""},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET", 0, "", "", "reading body: unexpected EOF"},
		{"garbage", "SSH-2.0-OpenSSH\r\n", "GET", 0, "", "", "malformed HTTP response"},
		{"bad code", "HTTP/1.1 2x0 OK\r\n\r\n", "GET", 0, "", "", "malformed HTTP status code"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "GET", 0, "", "", "bad Content-Length"},
		{"bad header", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "GET", 0, "", "", "malformed MIME header line"},
		{"empty", "", "GET", 0, "", "", "EOF"},
		{"cut headers", "HTTP/1.1 200 OK\r\nContent-Le", "GET", 0, "", "", "unexpected EOF"},
	} {
		br := bufio.NewReaderSize(strings.NewReader(c.in), 4096)
		code, status, body, err := readHTTPResponse(br, c.method)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || code != c.code || status != c.status || string(body) != c.body {
			t.Errorf("%s: got %d %q %q %v, want %d %q %q", c.name, code, status, body, err, c.code, c.status, c.body)
		}
	}
	// Every truncation of a valid response: an answer or an error, no panic.
	full := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	for i := range full {
		readHTTPResponse(bufio.NewReaderSize(strings.NewReader(full[:i]), 16), "GET")
	}
}
