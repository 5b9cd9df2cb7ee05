package ocf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is an OCF parameter content type.
type Type string

const (
	String  Type = "string"
	Integer Type = "integer"
	Boolean Type = "boolean"
	Time    Type = "time" // a duration: "10", "10s", "500ms", "2min", "1h"
)

// Param declares one agent parameter. Parsing of OCF_RESKEY_<Name>, the
// typed value, validate-all and the meta-data all come from this.
type Param struct {
	Name     string
	Type     Type
	Required bool
	Unique   bool
	Default  string // as the user would write it; "" = no default
	Short    string
	Long     string
	// Check validates a set value beyond its type; its error message is
	// wrapped with the parameter name and value.
	Check func(v Value) error
}

// Value is one parameter's resolved value.
type Value struct {
	Name string
	Raw  string // the string given, or the default
	Set  bool   // given in the environment (not defaulted)
	Int  int
	Bool bool
	Dur  time.Duration
}

// Values are the parsed parameters of one invocation.
type Values map[string]Value

// String returns the raw value of a parameter ("" when unset, no default).
func (v Values) String(name string) string { return v.get(name).Raw }

// Int returns an integer parameter.
func (v Values) Int(name string) int { return v.get(name).Int }

// Bool returns a boolean parameter.
func (v Values) Bool(name string) bool { return v.get(name).Bool }

// Duration returns a time parameter.
func (v Values) Duration(name string) time.Duration { return v.get(name).Dur }

// IsSet reports whether the parameter was given (not defaulted).
func (v Values) IsSet(name string) bool { return v.get(name).Set }

func (v Values) get(name string) Value {
	val, ok := v[name]
	if !ok {
		// A typo in an agent is a programming error, not a user error.
		panic("ocf: undeclared parameter " + name)
	}
	return val
}

// ParseBool accepts what ocf_is_true accepts (yes/true/1/on, case-blind)
// and their negations.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "1", "on", "y":
		return true, nil
	case "no", "false", "0", "off", "n", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (want yes/no, true/false, 1/0)")
}

// ParseDuration reads a Pacemaker-style time: a bare number is seconds;
// suffixes ms, s, sec, m, min, h, hr are accepted.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("not a time (want e.g. 5, 5s, 500ms, 2min)")
	}
	var mult time.Duration
	switch unit {
	case "", "s", "sec", "secs", "second", "seconds":
		mult = time.Second
	case "ms", "msec", "msecs":
		mult = time.Millisecond
	case "us", "usec", "usecs":
		mult = time.Microsecond
	case "m", "min", "mins", "minute", "minutes":
		mult = time.Minute
	case "h", "hr", "hrs", "hour", "hours":
		mult = time.Hour
	default:
		return 0, fmt.Errorf("unknown time unit %q (want ms, s, min or h)", unit)
	}
	return time.Duration(f * float64(mult)), nil
}

// parseValue turns a raw string into a typed Value.
func parseValue(p Param, raw string, set bool) (Value, error) {
	v := Value{Name: p.Name, Raw: raw, Set: set}
	if raw == "" {
		return v, nil
	}
	var err error
	switch p.Type {
	case Integer:
		v.Int, err = strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			err = fmt.Errorf("not an integer")
		}
	case Boolean:
		v.Bool, err = ParseBool(raw)
	case Time:
		v.Dur, err = ParseDuration(raw)
	}
	return v, err
}

// Parse reads every declared parameter from env (OCF_RESKEY_<name>),
// applying defaults. Type errors and missing required parameters are
// returned as ErrConfigured naming the parameter and the value.
func Parse(params []Param, env func(string) string) (Values, error) {
	vals := make(Values, len(params))
	for _, p := range params {
		raw := env("OCF_RESKEY_" + p.Name)
		set := raw != ""
		if !set {
			raw = p.Default
		}
		v, err := parseValue(p, raw, set)
		if err != nil {
			return vals, Errorf(ErrConfigured, "parameter %s=%q: %v", p.Name, raw, err)
		}
		vals[p.Name] = v
	}
	return vals, nil
}

// Validate checks required parameters and each parameter's own Check.
func Validate(params []Param, vals Values) error {
	for _, p := range params {
		v := vals[p.Name]
		if p.Required && !v.Set {
			return Errorf(ErrConfigured, "required parameter %s is not set", p.Name)
		}
		if p.Check != nil && v.Raw != "" {
			if err := p.Check(v); err != nil {
				return Errorf(ErrConfigured, "parameter %s=%q: %v", p.Name, v.Raw, err)
			}
		}
	}
	return nil
}
