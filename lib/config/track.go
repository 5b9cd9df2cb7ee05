package config

import (
	"math"
	"os"
	"strconv"
	"strings"
)

// keepalived's tracking rules, one place for VRRP (lib/vrrp) and the
// checker (lib/check), read from keepalived 2.2.7's vrrp_track.c,
// track_file.c and check_file.c.

// TrackWeight is what a tracked script or interface adds to an instance's
// priority, and whether it puts the instance in FAULT:
//   - weight 0: FAULT while it fails (is down); with reverse, while it passes;
//   - weight > 0: +weight while it passes; with reverse, -weight;
//   - weight < 0: weight while it fails; with reverse, -weight.
func TrackWeight(ok bool, weight int, reverse bool) (add int, fault bool) {
	if weight == 0 {
		return 0, ok == reverse
	}
	if (weight > 0) == ok {
		if reverse {
			return -weight, false
		}
		return weight, false
	}
	return 0, false
}

// Bounds of a tracked file's status: VRRP clamps it to a priority change
// (FAULT at the bottom), the checker to an IPVS weight (FAULT at the
// bottom, which no file value times a weight reaches in practice).
const (
	VRRPFileFault, VRRPFileMax         = -254, 253
	CheckFileFault, CheckFileMax       = math.MinInt32, math.MaxInt32
	trackFileMin, trackFileMax   int64 = math.MinInt32, math.MaxInt32 + 1
)

// TrackFileStatus is keepalived's status of a tracked file holding v, for
// a tracker of weight w: with w 0, FAULT while v is not 0 (reverse: while v
// is 0), else nothing; else v*w (reverse: -v*w) clamped to [fault, max],
// FAULT at fault.
func TrackFileStatus(v int64, w int, reverse bool, fault, max int64) (add int64, isFault bool) {
	if w == 0 {
		return 0, (v != 0) != reverse
	}
	s := v * int64(w)
	if reverse {
		s = -s
	}
	s = min(s, max)
	if s <= fault {
		return fault, true
	}
	return s, false
}

// ReadTrackFile reads a tracked file as keepalived does: the integer its
// first 127 bytes start with (strtol: blanks, a sign, 0x hex or 0 octal;
// no number reads 0); a missing, unreadable or empty file is 0. ok is
// false for a number out of range (keepalived logs "Invalid number" and
// keeps the last value).
func ReadTrackFile(path string) (v int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, true
	}
	var buf [127]byte
	n, _ := f.Read(buf[:])
	f.Close()
	if n <= 0 {
		return 0, true
	}
	return parseStrtol(string(buf[:n]))
}

// parseStrtol is C's strtol(s, NULL, 0) on a 64-bit long, with keepalived's
// range check.
func parseStrtol(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isDigitIn(s[2], 16):
		base, s = 16, s[2:]
	case len(s) > 0 && s[0] == '0':
		base = 8
	}
	i := 0
	for i < len(s) && isDigitIn(s[i], base) {
		i++
	}
	if i == 0 {
		return 0, true
	}
	u, err := strconv.ParseUint(s[:i], base, 64)
	if err != nil || u > math.MaxInt64 {
		return 0, false // ERANGE
	}
	v := int64(u)
	if neg {
		v = -v
	}
	if v < trackFileMin || v > trackFileMax {
		return v, false
	}
	return v, true
}

func isDigitIn(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return int(c-'0') < base
	case c >= 'a' && c <= 'f':
		return base == 16
	case c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}

// WriteInit writes init_file's value, as keepalived does at start: when
// the file is missing, or always with overwrite (a regular file only).
// Nothing to do without init_file.
func (t *TrackFile) WriteInit() error {
	if !t.Init {
		return nil
	}
	if st, err := os.Stat(t.File); err == nil {
		if !t.Overwrite {
			return nil
		}
		if !st.Mode().IsRegular() {
			return &os.PathError{Op: "init_file", Path: t.File, Err: errNotRegular}
		}
	}
	return os.WriteFile(t.File, []byte(strconv.Itoa(t.InitValue)+"\n"), 0o644)
}

type errString string

func (e errString) Error() string { return string(e) }

const errNotRegular = errString("not a regular file")
