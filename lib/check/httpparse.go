package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
)

// httpParse reads one HTTP/1.x response from the bytes received so far:
// the status, then the body by Content-Length, chunked, or to EOF
// (the request said Connection: close), at most 1 MB. Only what a check
// needs: no header map, no copy of a Content-Length body. It is fed the
// whole response each time more arrives (the status and headers are kept
// once complete), and end says how the stream stands: nil while more may
// come, io.EOF at the end, else the read error (a timeout, a reset).
type httpParse struct {
	method  string
	hdrEnd  int // > 0 once the headers are complete: where the body starts
	code    int
	status  string
	cl      int64
	chunked bool
}

const (
	maxBody = 1 << 20  // a check reads at most this much body
	maxLine = 64 << 10 // nor longer header lines
	// nor more headers: a server sending headers forever is down
	maxHeaders = 1 << 20
)

var errHeaderLine = errors.New("HTTP header line too long")

// feed parses data; done is false while the response is incomplete and
// end is nil (read more, feed again).
func (p *httpParse) feed(data []byte, end error) (body []byte, done bool, err error) {
	if p.hdrEnd == 0 {
		ok, err := p.headers(data, end)
		if !ok || err != nil {
			return nil, err != nil, err
		}
	}
	if p.method == "HEAD" || p.code/100 == 1 || p.code == 204 || p.code == 304 {
		return nil, true, nil
	}
	rest := data[p.hdrEnd:]
	switch {
	case p.chunked:
		// rare: decoded again from the start each time more arrives
		b, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(bytes.NewReader(rest)), maxBody))
		if err == io.ErrUnexpectedEOF && end != io.EOF {
			if end == nil {
				if len(rest) > 8*maxBody {
					return nil, true, errors.New("reading body: chunked encoding too long")
				}
				return nil, false, nil
			}
			err = end
		}
		if err != nil {
			return nil, true, fmt.Errorf("reading body: %w", err)
		}
		return b, true, nil
	case p.cl >= 0:
		if need := min(p.cl, maxBody); int64(len(rest)) >= need {
			return rest[:need], true, nil
		}
	default:
		if len(rest) >= maxBody {
			return rest[:maxBody], true, nil
		}
		if end == io.EOF {
			return rest, true, nil
		}
	}
	switch end {
	case nil:
		return nil, false, nil
	case io.EOF:
		end = io.ErrUnexpectedEOF
	}
	return nil, true, fmt.Errorf("reading body: %w", end)
}

// headers parses the status line and the headers; ok once they are
// complete.
func (p *httpParse) headers(data []byte, end error) (ok bool, err error) {
	p.cl, p.chunked = -1, false
	off := 0
	for first := true; ; first = false {
		line, n, err := nextLine(data[off:], end)
		if line == nil || err != nil {
			if err == nil && off+n > maxHeaders {
				err = errors.New("HTTP response headers too long")
			}
			return false, err
		}
		off += n
		if first {
			if err := p.statusLine(line); err != nil {
				return false, err
			}
			continue
		}
		if len(line) == 0 {
			p.hdrEnd = off
			return true, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false, fmt.Errorf("malformed MIME header line: %s", line)
		}
		k, v = bytes.TrimSpace(k), bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return false, fmt.Errorf("bad Content-Length %q", v)
			}
			p.cl = n
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			if bytes.EqualFold(v, []byte("chunked")) {
				p.chunked = true
			} else if !bytes.EqualFold(v, []byte("identity")) {
				return false, fmt.Errorf("unsupported transfer encoding: %q", v)
			}
		}
	}
}

func (p *httpParse) statusLine(line []byte) error {
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return fmt.Errorf("malformed HTTP response %q", line)
	}
	rest = bytes.TrimLeft(rest, " ")
	codeB, _, _ := bytes.Cut(rest, []byte(" "))
	code := 0
	for _, c := range codeB {
		if c < '0' || c > '9' {
			code = -1
			break
		}
		code = code*10 + int(c-'0')
	}
	if len(codeB) != 3 || code < 100 {
		return fmt.Errorf("malformed HTTP status code %q", codeB)
	}
	p.code = code
	if s := statusText(rest); s != "" {
		p.status = s
	} else {
		p.status = string(rest)
	}
	return nil
}

// statusText returns the common status lines without an allocation.
func statusText(b []byte) string {
	switch string(b) {
	case "200 OK":
		return "200 OK"
	case "404 Not Found":
		return "404 Not Found"
	case "500 Internal Server Error":
		return "500 Internal Server Error"
	case "503 Service Unavailable":
		return "503 Service Unavailable"
	}
	return ""
}

// nextLine is the first line of data without its CR LF and the bytes it
// took; line is nil while the line is incomplete and end is nil.
func nextLine(data []byte, end error) (line []byte, n int, err error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		switch {
		case len(data) >= maxLine:
			return nil, 0, errHeaderLine
		case end == nil:
			return nil, len(data), nil
		case end == io.EOF && len(data) > 0:
			return nil, 0, io.ErrUnexpectedEOF
		}
		return nil, 0, end
	}
	if i >= maxLine {
		return nil, 0, errHeaderLine
	}
	l := data[:i]
	if k := len(l); k > 0 && l[k-1] == '\r' {
		l = l[:k-1]
	}
	return l, i + 1, nil
}

// readHTTPResponse reads one response from r (fastGET's connection when
// it is not driven by the poller) into a pooled buffer and parses it.
func readHTTPResponse(r io.Reader, method string) (code int, status string, body []byte, err error) {
	bp := getBuf()
	defer putBuf(bp)
	buf := (*bp)[:0]
	p := httpParse{method: method}
	var end error
	for {
		b, done, err := p.feed(buf, end)
		if err != nil {
			return 0, "", nil, err
		}
		if done {
			// the buffer goes back to the pool: the body is copied
			return p.code, p.status, bytes.Clone(b), nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr != nil {
			end = rerr
		}
		*bp = buf
	}
}
