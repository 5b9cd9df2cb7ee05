package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sort"
)

// Reading a keepalived.conf again after an edit (lvsd's reload): a Reader
// keeps the previous read's top-level blocks (their bytes, lines and, for
// the virtual_servers, their typed virtuals and messages) and re-reads only
// the lines between the longest common head and tail of the two versions;
// the virtual_servers outside keep their import, moved by the lines the
// edit added or removed. The result is the one a whole read gives
// (TestReaderSameAsFullRead, FuzzReloadKeepalived). Whatever this does not
// cover is read whole: the preprocessor or include anywhere, an edit that
// touches a block the virtual_servers depend on (global_defs,
// virtual_server_group, track_file), a virtual_server defined twice,
// reading a group, a track_file or a user, and any error.

// Reader reads one configuration file again and again. A keepalived.conf
// is read in part when it can be (above); other formats are read whole.
// Not for concurrent use.
type Reader struct {
	o    Options
	data []byte // the bytes of the last read
	last *kaLast
	// Partial counts the reads made in part (for tests and benchmarks).
	Partial int
}

// NewReader is a Reader with options (see Options).
func NewReader(o Options) *Reader {
	o.fill()
	return &Reader{o: o}
}

// Load reads path, as config.LoadWith does.
func (rd *Reader) Load(path string) (*Config, error) {
	data, err := rd.o.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return rd.Parse(path, data)
}

// Parse reads data as ParseWith does. The virtuals of the result may be
// those of the previous result (unchanged, as nothing changes a loaded
// configuration).
func (rd *Reader) Parse(name string, data []byte) (*Config, error) {
	rd.data = data
	if errs := checkUTF8(name, data); errs != nil {
		return nil, errs
	}
	if Detect(name, data) != "keepalived" {
		rd.last = nil
		return ParseWith(name, data, rd.o)
	}
	cfg, err := rd.parseKeepalived(name, data)
	if err == nil && rd.o.NoVRRP {
		withoutVRRP(cfg)
	}
	return cfg, err
}

func (rd *Reader) parseKeepalived(name string, data []byte) (*Config, error) {
	if l := rd.last; l != nil && l.name == name {
		if cfg, next := l.again(data, rd.o); cfg != nil {
			rd.last = next
			rd.Partial++
			return cfg, nil
		}
	}
	cfg, last, err := readKeepalived(name, data, rd.o, true)
	if err == nil {
		rd.last = last // a refused read keeps the last good one to compare with
	}
	return cfg, err
}

// Digest is the SHA-256 of the bytes last read, computed when asked (a
// reload asks after its writes).
func (rd *Reader) Digest() [32]byte { return sha256.Sum256(rd.data) }

// kaLast is a keepalived.conf read that the next can start from.
type kaLast struct {
	name  string
	data  []byte
	units []kaUnit // its top-level statements, in order
}

// kaUnit is one top-level statement of a read.
type kaUnit struct {
	start, end int // its bytes in the file: whole lines
	line, last int // its first and last line
	key        string
	done       *kaDone // a virtual_server whose import is reused; nil: read again
}

// kaDone is a virtual_server's import: its virtuals (as finished), what it
// reported and its reals without a checker.
type kaDone struct {
	virtuals  []*Virtual
	keys      []string // their Keys
	diags     []kaDiag
	unchecked kaUnchecked
	head      kaStmt // the block's keyword and lines, for messages
	ok        bool   // fit for reuse
}

func (d *kaDone) virtualsOrNil() []*Virtual {
	if d == nil {
		return nil
	}
	return d.virtuals
}

type kaDiag struct {
	d     Diag
	isErr bool
}

// kaUnchecked counts reals without a checker, for the one warning of
// finish.
type kaUnchecked struct {
	n, vs       int
	lastVS      *Virtual
	file, first string
	line        int
	lastFile    string
	lastLine    int
}

// add counts o's reals after u's, as if read one after the other.
func (u *kaUnchecked) add(o kaUnchecked) {
	if o.n == 0 {
		return
	}
	if u.n == 0 {
		u.file, u.line, u.first = o.file, o.line, o.first
	}
	u.n += o.n
	u.vs += o.vs
	u.lastVS, u.lastFile, u.lastLine = o.lastVS, o.lastFile, o.lastLine
}

// kaContext are the blocks a virtual_server's import reads: an edit of one
// means a whole read.
var kaContext = map[string]bool{"global_defs": true, "virtual_server_group": true, "track_file": true, "vrrp_track_file": true}

var errNoReuse = errors.New("read the whole file")

// recordVirtualServer is virtualServer, recorded.
func (im *kaImport) recordVirtualServer(s *kaStmt) *kaDone {
	d := &kaDone{head: kaStmt{key: s.key, file: s.file, line: s.line, block: s.block, end: s.end}}
	n := len(im.cfg.Virtuals)
	before := im.unchecked
	im.unchecked, im.noReuse, im.r.rec = kaUnchecked{}, false, d
	im.virtualServer(s)
	d.unchecked, im.r.rec = im.unchecked, nil
	im.unchecked = before
	im.unchecked.add(d.unchecked)
	d.virtuals = append([]*Virtual(nil), im.cfg.Virtuals[n:]...)
	for _, v := range d.virtuals {
		d.keys = append(d.keys, v.Key())
	}
	d.ok = !im.noReuse
	return d
}

// reuse replays a recorded import, its lines moved by shift; it returns
// the record as this read has it, or nil when it cannot be reused (its
// virtual is defined again before it).
func (im *kaImport) reuse(d *kaDone, shift int) *kaDone {
	if shift != 0 {
		m := &kaDone{head: d.head, keys: d.keys, unchecked: d.unchecked, ok: true, diags: make([]kaDiag, len(d.diags))}
		m.head.line += shift
		m.head.end += shift
		for i, x := range d.diags {
			if x.d.Line > 0 {
				x.d.Line += shift
			}
			m.diags[i] = x
		}
		if m.unchecked.n > 0 {
			m.unchecked.line += shift
			m.unchecked.lastLine += shift
		}
		for _, v := range d.virtuals {
			m.virtuals = append(m.virtuals, v.moved(shift))
		}
		d = m
	}
	for _, x := range d.diags {
		im.r.add(x.d, x.isErr)
	}
	im.unchecked.add(d.unchecked)
	for i, v := range d.virtuals {
		key := d.keys[i]
		if im.vsSeen[key] != nil {
			return nil
		}
		im.vsSeen[key] = v
		im.cfg.Virtuals = append(im.cfg.Virtuals, v)
		im.reused[v] = true
	}
	return d
}

// moved is v read lines further down: a copy with its lines moved (v
// itself stays as the running configuration has it).
// TestMovedCoversEveryLine fails when the model gets a line this misses.
func (v *Virtual) moved(shift int) *Virtual {
	n := *v
	n.Line += shift
	n.Reals = make([]*Real, len(v.Reals))
	rs := make([]Real, len(v.Reals))
	for i, r := range v.Reals {
		rs[i] = *r.moved(shift)
		n.Reals[i] = &rs[i]
	}
	n.Fallback, n.SorryServer = v.Fallback.moved(shift), v.SorryServer.moved(shift)
	return &n
}

func (r *Real) moved(shift int) *Real {
	if r == nil {
		return nil
	}
	n := *r
	n.Line += shift
	if len(r.Files) > 0 {
		n.Files = append([]FileCheck(nil), r.Files...)
		for i := range n.Files {
			n.Files[i].Line += shift
		}
	}
	return &n
}

// newKALast keeps a whole read for the next, or is nil when that read
// cannot be started from.
func newKALast(name string, data []byte, items []kaItem, im *kaImport) *kaLast {
	if im.merged || len(im.r.d.warnings) >= maxErrors {
		return nil
	}
	starts := lineStarts(data)
	l := &kaLast{name: name, data: data, units: make([]kaUnit, 0, len(items))}
	for _, it := range items {
		u, ok := unitOf(it.s, it.done, starts, len(data), 1)
		if !ok || len(l.units) > 0 && u.line <= l.units[len(l.units)-1].last {
			return nil // two statements on one line
		}
		l.units = append(l.units, u)
	}
	return l
}

// unitOf is the unit of top-level statement s; starts are the offsets of
// the lines of the bytes s was read from, whose first line is line base,
// and size their length.
func unitOf(s *kaStmt, done *kaDone, starts []int, size, base int) (kaUnit, bool) {
	last := s.line
	if s.block {
		last = s.end
	}
	first := s.line - base
	if first < 0 || last < s.line || last-base >= len(starts) {
		return kaUnit{}, false
	}
	u := kaUnit{start: starts[first], end: size, line: s.line, last: last, key: s.key}
	if last-base+1 < len(starts) {
		u.end = starts[last-base+1]
	}
	if done != nil && done.ok {
		u.done = done
	}
	return u, true
}

// lineStarts are the offsets of the lines of data (the first line's is 0).
func lineStarts(data []byte) []int {
	starts := make([]int, 1, bytes.Count(data, []byte{'\n'})+1)
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 || i+j+1 >= len(data) {
			return starts
		}
		i += j + 1
		starts = append(starts, i)
	}
}

// again reads data, the file's new version, from l; nil when it has to be
// read whole.
func (l *kaLast) again(data []byte, o Options) (*Config, *kaLast) {
	old, units := l.data, l.units
	p := commonPrefix(old, data)
	q := commonSuffix(old[p:], data[p:])
	delta := len(data) - len(old)
	// the units the edit touches, i0..i1 (none when it is between two)
	i0 := sort.Search(len(units), func(i int) bool { return units[i].end > p })
	i1 := sort.Search(len(units), func(i int) bool { return units[i].start >= len(old)-q }) - 1
	xo, xLine := 0, 1
	if i0 > 0 {
		xo, xLine = units[i0-1].end, units[i0-1].last+1
	}
	yo := len(old)
	if i1+1 < len(units) {
		yo = units[i1+1].start
	}
	if yo+delta > 0 && data[yo+delta-1] != '\n' {
		return nil, nil // the tail no longer starts a line
	}
	for _, u := range units[i0 : i1+1] {
		if kaContext[u.key] {
			return nil, nil
		}
	}
	region := data[xo : yo+delta]
	shift := bytes.Count(region, []byte{'\n'}) - bytes.Count(old[xo:yo], []byte{'\n'})

	r := &kaReader{d: diags{file: l.name}, o: o}
	stmts, _ := r.parseBlock(r.tokenize(l.name, region, xLine, nil), 0, true, kaToken{})
	if r.special || len(r.d.errs) > 0 {
		return nil, nil
	}
	items := make([]kaItem, 0, len(units)-(i1+1-i0)+len(stmts))
	again := func(u kaUnit) bool { // a unit not reused, read again
		s, _ := r.parseBlock(r.tokenize(l.name, data[u.start:u.end], u.line, nil), 0, true, kaToken{})
		if len(s) != 1 || r.special {
			return false
		}
		items = append(items, kaItem{s: s[0]})
		return true
	}
	next := &kaLast{name: l.name, data: data, units: make([]kaUnit, 0, cap(items))}
	for _, u := range units[:i0] {
		if u.done != nil {
			items = append(items, kaItem{reuse: u.done})
		} else if !again(u) {
			return nil, nil
		}
		next.units = append(next.units, u)
	}
	starts := lineStarts(region)
	for _, s := range stmts {
		if kaContext[s.key] {
			return nil, nil
		}
		u, ok := unitOf(s, nil, starts, len(region), xLine)
		if !ok || len(next.units) > 0 && u.line <= next.units[len(next.units)-1].last {
			return nil, nil
		}
		u.start, u.end = u.start+xo, u.end+xo
		items = append(items, kaItem{s: s})
		next.units = append(next.units, u)
	}
	for _, u := range units[i1+1:] {
		u.start, u.end, u.line, u.last = u.start+delta, u.end+delta, u.line+shift, u.last+shift
		// a message may name another line in its text: read again when moved
		if u.done != nil && (shift == 0 || len(u.done.diags) == 0) {
			items = append(items, kaItem{reuse: u.done, shift: shift})
		} else if u.done = nil; !again(u) {
			return nil, nil
		}
		next.units = append(next.units, u)
	}
	cfg, im, err := importKeepalived(r, items, true)
	if err != nil || im.merged {
		return nil, nil
	}
	// the records as this read has them: re-read blocks' new ones, moved ones
	for i := range items {
		u := &next.units[i]
		switch {
		case items[i].reuse != nil:
			u.done = items[i].reuse
		case items[i].done != nil && items[i].done.ok:
			u.done = items[i].done
		default:
			u.done = nil
		}
	}
	return cfg, next
}

// commonPrefix is the length of the bytes a and b start with.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+4096 <= n && bytes.Equal(a[i:i+4096], b[i:i+4096]); i += 4096 { // vectorised
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}

// commonSuffix is the length of the bytes a and b end with.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+4096 <= n && bytes.Equal(a[len(a)-i-4096:len(a)-i], b[len(b)-i-4096:len(b)-i]); i += 4096 {
	}
	for ; i < n && a[len(a)-1-i] == b[len(b)-1-i]; i++ {
	}
	return i
}
