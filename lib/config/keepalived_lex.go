package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The keepalived.conf lexer: the preprocessor ($NAME definitions, ~SEQ,
// ~LST), include, tokens and blocks. It knows no keyword but the braces;
// the importer (keepalived.go) gives the statements their meaning.

type kaToken struct {
	text string
	file string
	line int
	nl   bool // first token of a line
	// quoted: a "..." word, never a brace ("{" in a quoted misc_path)
	quoted bool
}

type kaStmt struct {
	key      string
	args     []string
	file     string
	line     int
	children []*kaStmt
	block    bool
	end      int // line of the closing '}' of a block
}

type kaReader struct {
	d     diags
	o     Options
	depth int
	files int
	vars  map[string]string // $NAME=value definitions
	multi *kaMulti          // a multi-line definition being read
	lines int               // lines the preprocessor produced (bounded)
	pre   []string          // preprocess's result, reused line after line
	slab  []kaStmt          // see newStmt
	words []string          // statement arguments, see parseBlock
	said  map[Diag]bool     // see once
	// special: the file uses the preprocessor or include, which a Reader
	// does not read in part
	special bool
	rec     *kaDone // what a virtual_server's import reports goes here too
}

var reKAVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Bounds of the preprocessor, so that a definition that expands itself or
// a sequence of sequences cannot take the machine: keepalived's own
// example of 65,024 instances fits.
const (
	kaMaxDepth = 16
	kaMaxLines = 1 << 20 // lines a file's definitions and sequences may add
)

// preprocess handles keepalived's line features (keepalived.conf(5)):
// `$NAME=value` definitions, multi-line ones (each line but the last ends
// with '\'), used as $NAME or ${NAME} and replaced at use, recursively
// (undefined names are left alone, as keepalived does; a multi-line value
// gives several lines, which may define names in turn); `~SEQ(var, start,
// step, end)`, `~SEQx(...)` (hexadecimal) and `~LST(var, v1, v2, ...)`,
// which repeat the rest of the line; and `@id` / `@^id` conditional lines,
// kept when the config id (-i, default the short host name) matches / does
// not match. It returns the lines to tokenize, all at line n.
func (r *kaReader) preprocess(file string, n int, line string) []string {
	if r.multi != nil { // the continuation of a multi-line definition
		body, more := strings.CutSuffix(strings.TrimRight(line, " \t\r"), "\\")
		r.multi.lines = append(r.multi.lines, body)
		if !more {
			r.define(r.multi.name, strings.Join(r.multi.lines, "\n"))
			r.multi = nil
		}
		return nil
	}
	r.pre = r.pre[:0]
	if t := strings.TrimLeft(line, " \t"); t == "" || t[0] != '$' && t[0] != '@' && t[0] != '~' &&
		(len(r.vars) == 0 || !strings.Contains(line, "$")) {
		r.pre = append(r.pre, line) // the common line: no allocation (r.pre is reused)
		return r.pre
	}
	r.special = true
	r.expand(file, n, line, 0, &r.pre)
	return r.pre
}

type kaMulti struct {
	name  string
	lines []string
}

func (r *kaReader) define(name, val string) {
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	r.vars[name] = val
}

func (r *kaReader) expand(file string, n int, line string, depth int, out *[]string) {
	if depth > kaMaxDepth {
		r.errorf(file, n, "definitions nested more than %d deep (one that uses itself?)", kaMaxDepth)
		return
	}
	if r.lines += 1; r.lines > kaMaxLines {
		if r.lines == kaMaxLines+1 {
			r.errorf(file, n, "the definitions and sequences expand to more than %d lines", kaMaxLines)
		}
		return
	}
	t := strings.TrimSpace(line)
	if strings.HasPrefix(t, "@") {
		id, rest, _ := strings.Cut(t[1:], " ")
		if i := strings.IndexByte(id, '\t'); i >= 0 {
			id, rest = id[:i], id[i+1:]+" "+rest
		}
		neg := strings.HasPrefix(id, "^")
		id = strings.TrimPrefix(id, "^")
		if (id == r.o.ConfigID) == neg {
			return
		}
		t = strings.TrimSpace(rest)
		line = rest
	}
	if strings.HasPrefix(t, "$") {
		name, val, isDef := strings.Cut(t[1:], "=")
		if isDef && reKAName.MatchString(name) {
			if body, more := strings.CutSuffix(strings.TrimRight(val, " \t\r"), "\\"); more {
				r.multi = &kaMulti{name: name, lines: []string{body}}
				return
			}
			r.define(name, strings.TrimSpace(val))
			return
		}
		if isDef && strings.Contains(name, "(") {
			r.errorf(file, n, "parameterised definition $%s: keepalived 2.2 (Debian 12's) has none, so neither does lvsd "+
				"(fix: set plain $NAME=value definitions before each use, as keepalived.conf(5) shows)", name)
			return
		}
	}
	if strings.HasPrefix(t, "~SEQ") || strings.HasPrefix(t, "~LST") {
		r.sequence(file, n, t, depth, out)
		return
	}
	if len(r.vars) > 0 && strings.Contains(line, "$") {
		changed := false
		exp := reKAVar.ReplaceAllStringFunc(line, func(m string) string {
			k := strings.Trim(m, "${}")
			if v, ok := r.vars[k]; ok {
				changed = true
				return v
			}
			return m
		})
		if changed {
			for _, l := range strings.Split(exp, "\n") {
				r.expand(file, n, l, depth+1, out)
			}
			return
		}
	}
	*out = append(*out, line)
}

var reKASeq = regexp.MustCompile(`^~(SEQx?|LST)\(([^)]*)\)\s*(.*)$`)

// sequence expands ~SEQ / ~SEQx / ~LST: the rest of the line once per
// value, with the variable defined to it.
func (r *kaReader) sequence(file string, n int, t string, depth int, out *[]string) {
	m := reKASeq.FindStringSubmatch(t)
	if m == nil {
		r.errorf(file, n, "invalid sequence %q: want ~SEQ(var, start, step, end), ~SEQx(...) or ~LST(var, v1, v2, ...)", t)
		return
	}
	args := strings.Split(m[2], ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	name, rest := args[0], m[3]
	if !reKAName.MatchString(name) || len(args) < 2 {
		r.errorf(file, n, "invalid ~%s(%s): want a variable name and values", m[1], m[2])
		return
	}
	var vals []string
	if m[1] == "LST" {
		vals = args[1:]
	} else {
		num := func(s string) (int64, bool) {
			x, err := strconv.ParseInt(s, 0, 64)
			return x, err == nil && x > -1<<40 && x < 1<<40
		}
		var start, step, end int64
		ok := true
		switch len(args) {
		case 2: // ~SEQ(var, end)
			end, ok = num(args[1])
			start = 1
			if end < 0 {
				start = -1
			}
		case 3: // ~SEQ(var, start, end)
			var ok2 bool
			start, ok = num(args[1])
			end, ok2 = num(args[2])
			ok = ok && ok2
		case 4:
			var ok2, ok3 bool
			start, ok = num(args[1])
			step, ok2 = num(args[2])
			end, ok3 = num(args[3])
			ok = ok && ok2 && ok3
		default:
			ok = false
		}
		if step == 0 {
			step = 1
			if end < start {
				step = -1
			}
		}
		if !ok || (step > 0) != (end >= start) && start != end {
			r.errorf(file, n, "invalid ~%s(%s): want (var, [start,] [step,] end) with a step toward end", m[1], m[2])
			return
		}
		for x := start; (step > 0 && x <= end) || (step < 0 && x >= end); x += step {
			if len(vals) >= kaMaxLines {
				r.errorf(file, n, "~%s(%s) has more than %d values", m[1], m[2], kaMaxLines)
				return
			}
			if m[1] == "SEQx" {
				vals = append(vals, strconv.FormatInt(x, 16))
			} else {
				vals = append(vals, strconv.FormatInt(x, 10))
			}
		}
	}
	old, had := r.vars[name]
	for _, v := range vals {
		r.define(name, v)
		r.expand(file, n, rest, depth+1, out)
		if r.lines > kaMaxLines {
			break
		}
	}
	if had {
		r.vars[name] = old
	} else {
		delete(r.vars, name)
	}
}

var reKAName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *kaReader) errorf(file string, line int, format string, args ...any) {
	r.add(Diag{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}, true)
}

func (r *kaReader) warnf(file string, line int, format string, args ...any) {
	r.add(Diag{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}, false)
}

func (r *kaReader) add(d Diag, isErr bool) {
	if r.rec != nil {
		r.rec.diags = append(r.rec.diags, kaDiag{d, isErr})
	}
	list := &r.d.warnings
	if isErr {
		list = (*[]Diag)(&r.d.errs)
	}
	if len(*list) < maxErrors && r.once(d) {
		*list = append(*list, d)
	}
}

// once: d is not reported yet (a virtual_server group's block is read
// once per entry of the group, its messages told once).
func (r *kaReader) once(d Diag) bool {
	if r.said == nil {
		r.said = map[Diag]bool{}
	}
	if r.said[d] {
		return false
	}
	r.said[d] = true
	return true
}

// tokenize splits a file into tokens, expanding includes in place. Tokens
// are substrings of one copy of the file: no allocation per token or line.
// data's first line is line first of the file (a Reader reads part of it).
func (r *kaReader) tokenize(name string, data []byte, first int, out []kaToken) []kaToken {
	text := string(data)
	if out == nil {
		out = make([]kaToken, 0, len(text)/8+16) // about one token per 8 bytes
	}
	for n := first; len(text) > 0; n++ {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		lines := r.preprocess(name, n, line)
		if len(lines) > 1 { // an include among them would reuse r.pre
			lines = append([]string(nil), lines...)
		}
		for _, s := range lines {
			start := len(out)
			for len(s) > 0 {
				c := s[0]
				switch {
				case c == ' ' || c == '\t' || c == '\r':
					s = s[1:]
					continue
				case c == '!' || c == '#':
					s = ""
					continue
				case c == '{' || c == '}':
					out = append(out, kaToken{text: s[:1], file: name, line: n})
					s = s[1:]
					continue
				case c == '"':
					end := strings.IndexByte(s[1:], '"')
					if end < 0 {
						r.errorf(name, n, "missing closing quote")
						out = append(out, kaToken{text: s[1:], file: name, line: n})
						s = ""
						continue
					}
					out = append(out, kaToken{text: s[1 : end+1], file: name, line: n, quoted: true})
					s = s[end+2:]
					continue
				}
				j := tokenEnd(s)
				out = append(out, kaToken{text: s[:j], file: name, line: n})
				s = s[j:]
			}
			if len(out) == start {
				continue
			}
			out[start].nl = true
			if out[start].text == "include" {
				r.special = true
				toks := out[start:]
				out = out[:start]
				if len(toks) != 2 {
					r.errorf(name, n, "include needs exactly one file pattern")
					continue
				}
				out = r.include(name, n, toks[1].text, out)
			}
		}
	}
	if r.multi != nil && r.depth == 0 { // a multi-line definition ending the file
		r.define(r.multi.name, strings.Join(r.multi.lines, "\n"))
		r.multi = nil
	}
	return out
}

// tokenEnd is the length of the word at the start of s: up to a blank, a
// brace or a quote.
func tokenEnd(s string) int {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case ' ', '\t', '\r', '{', '}', '"':
			return j
		}
	}
	return len(s)
}

func (r *kaReader) include(from string, line int, pattern string, out []kaToken) []kaToken {
	if r.depth >= 8 {
		r.errorf(from, line, "include nested too deep (a loop?)")
		return out
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	matches, err := r.o.Glob(pattern)
	if err != nil {
		r.errorf(from, line, "include %s: %v", pattern, err)
		return out
	}
	if len(matches) == 0 {
		r.warnf(from, line, "include %s: no file matches", pattern)
		return out
	}
	sort.Strings(matches)
	for _, m := range matches {
		r.files++
		if r.files > 1000 {
			r.errorf(from, line, "too many included files")
			return out
		}
		data, err := r.o.ReadFile(m)
		if err != nil {
			r.errorf(from, line, "include %s: %v", m, err)
			continue
		}
		r.depth++
		out = r.tokenize(m, data, 1, out)
		r.depth--
	}
	return out
}

// newStmt allocates statements by the hundred (a generated file has tens
// of thousands).
func (r *kaReader) newStmt(t kaToken) *kaStmt {
	if len(r.slab) == 0 {
		r.slab = make([]kaStmt, 256)
	}
	s := &r.slab[0]
	r.slab = r.slab[1:]
	*s = kaStmt{key: t.text, file: t.file, line: t.line}
	return s
}

// parseBlock builds statements until a closing brace (or the end).
func (r *kaReader) parseBlock(toks []kaToken, i int, top bool, open kaToken) ([]*kaStmt, int) {
	var out []*kaStmt
	var cur *kaStmt
	for i < len(toks) {
		t := toks[i]
		switch {
		case t.text == "}" && !t.quoted:
			if top {
				r.errorf(t.file, t.line, "unexpected '}'")
				i++
				cur = nil
				continue
			}
			return out, i + 1
		case t.text == "{" && !t.quoted:
			if cur == nil {
				r.errorf(t.file, t.line, "'{' without a keyword")
				cur = &kaStmt{file: t.file, line: t.line}
			}
			cur.block = true
			cur.children, i = r.parseBlock(toks, i+1, false, t)
			if i-1 < len(toks) && toks[i-1].text == "}" && !toks[i-1].quoted {
				cur.end = toks[i-1].line
			}
			cur = nil
			continue
		case t.nl || cur == nil:
			cur = r.newStmt(t)
			out = append(out, cur)
			// the rest of the line up to a brace: the arguments, taken
			// from one shared array
			j := i + 1
			for j < len(toks) && !toks[j].nl && (toks[j].quoted || toks[j].text != "{" && toks[j].text != "}") {
				j++
			}
			if j > i+1 {
				a := len(r.words)
				for _, w := range toks[i+1 : j] {
					r.words = append(r.words, w.text)
				}
				cur.args = r.words[a:len(r.words):len(r.words)]
			}
			i = j
			continue
		default:
			cur.args = append(cur.args, t.text)
		}
		i++
	}
	if !top {
		r.errorf(open.file, open.line, "block opened here is not closed")
	}
	return out, i
}
