package ocf

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/version"
)

// Func implements one action. nil = success; an *Error carries its code
// (and reason); any other error is a generic failure with its text as the
// reason.
type Func func(c *Context) error

// Agent describes one resource agent: its parameters, once, and its actions.
type Agent struct {
	Name    string // the agent type, e.g. "VIP"
	Version string // empty: the build's (internal/version), as agents should leave it
	Short   string
	Long    string
	Params  []Param

	Start    Func
	Stop     Func
	Monitor  Func
	Validate Func // checks beyond the declared types; run before every action
	Reload   Func // optional
	Notify   Func // optional

	// Actions overrides the default <action> lines (timeouts, intervals).
	Actions []ActionSpec
}

// Context is one invocation of an action.
type Context struct {
	Agent      *Agent
	Action     string
	Params     Values
	Env        func(string) string
	Probe      bool          // monitor with interval 0 (Pacemaker probe)
	Interval   time.Duration // OCF_RESKEY_CRM_meta_interval
	Timeout    time.Duration // OCF_RESKEY_CRM_meta_timeout (0 = unknown)
	CheckLevel int           // OCF_CHECK_LEVEL (0, 10, 20)
	Instance   string        // OCF_RESOURCE_INSTANCE
	Log        *Logger
	Stdout     io.Writer
}

// StateDir is where agents keep state files (HA_RSCTMP).
func (c *Context) StateDir() string {
	if d := c.Env("HA_RSCTMP"); d != "" {
		return d
	}
	return "/run/resource-agents"
}

// StateFile names this resource instance's state file, with an optional
// suffix; the directory is created on demand by WriteState.
func (c *Context) StateFile(suffix string) string {
	inst := strings.NewReplacer("/", "_", " ", "_").Replace(c.Instance)
	name := c.Agent.Name + "-" + inst
	if suffix != "" {
		name += "." + suffix
	}
	return filepath.Join(c.StateDir(), name)
}

// WriteState writes a state file atomically.
func (c *Context) WriteState(suffix string, data []byte) error {
	p := c.StateFile(suffix)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// ReadState reads a state file; ok is false when it does not exist.
func (c *Context) ReadState(suffix string) (data []byte, ok bool) {
	data, err := os.ReadFile(c.StateFile(suffix))
	return data, err == nil
}

// RemoveState removes a state file; a missing file is not an error.
func (c *Context) RemoveState(suffix string) error {
	err := os.Remove(c.StateFile(suffix))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// HaveBinary reports whether an external program the agent needs exists;
// ocf-tester's OCF_TESTER_FAIL_HAVE_BINARY makes it report missing.
func (c *Context) HaveBinary(name string) bool {
	if c.Env("OCF_TESTER_FAIL_HAVE_BINARY") == "1" {
		return false
	}
	if strings.Contains(name, "/") {
		st, err := os.Stat(name)
		return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	for _, dir := range filepath.SplitList(c.Env("PATH") + ":/usr/sbin:/sbin:/usr/bin:/bin") {
		if dir == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// RequireRoot returns ErrPerm unless running as root.
func (c *Context) RequireRoot() error {
	if os.Geteuid() != 0 {
		return Errorf(ErrPerm, "%s: %s needs root privileges", c.Agent.Name, c.Action)
	}
	return nil
}

// RequireRootToChange is IPaddr2's check, for agents that change the
// node's addresses: start and stop need root (ErrPerm with IPaddr2's
// words), the read-only actions do not.
func (c *Context) RequireRootToChange() error {
	if c.Action != "start" && c.Action != "stop" {
		return nil
	}
	if c.RequireRoot() != nil {
		return Errorf(ErrPerm, "You must be root for %s operation.", c.Action)
	}
	return nil
}

// StatusActions are the default <action> lines with IPaddr2's status
// (monitor's twin) among them, in IPaddr2's order.
func StatusActions() []ActionSpec {
	return []ActionSpec{
		{Name: "start", Timeout: "20s"},
		{Name: "stop", Timeout: "20s"},
		{Name: "status", Timeout: "20s", Interval: "10s", Depth: "0"},
		{Name: "monitor", Timeout: "20s", Interval: "10s", Depth: "0"},
		{Name: "meta-data", Timeout: "5s"},
		{Name: "validate-all", Timeout: "20s"},
	}
}

func (a *Agent) version() string {
	if a.Version != "" {
		return a.Version
	}
	return version.Version
}

func (a *Agent) actionSpecs() []ActionSpec {
	if len(a.Actions) > 0 {
		return a.Actions
	}
	specs := []ActionSpec{
		{Name: "start", Timeout: "20s"},
		{Name: "stop", Timeout: "20s"},
		{Name: "monitor", Timeout: "20s", Interval: "10s", Depth: "0"},
	}
	if a.Reload != nil {
		specs = append(specs, ActionSpec{Name: "reload", Timeout: "20s"})
	}
	if a.Notify != nil {
		specs = append(specs, ActionSpec{Name: "notify", Timeout: "20s"})
	}
	return append(specs,
		ActionSpec{Name: "meta-data", Timeout: "5s"},
		ActionSpec{Name: "validate-all", Timeout: "20s"},
	)
}

// Usage writes the agent's usage and its parameters (also `--help`).
func (a *Agent) Usage(w io.Writer) {
	acts := []string{"start", "stop", "monitor", "status"}
	if a.Reload != nil {
		acts = append(acts, "reload")
	}
	if a.Notify != nil {
		acts = append(acts, "notify")
	}
	acts = append(acts, "meta-data", "validate-all", "usage")
	fmt.Fprintf(w, "usage: %s {%s}\n\n", a.Name, strings.Join(acts, "|"))
	fmt.Fprintf(w, "%s - %s\n", a.Name, a.Short)
	fmt.Fprintf(w, "OCF resource agent (ocf:lvs:%s). Parameters come from the environment\n", a.Name)
	fmt.Fprintln(w, "as OCF_RESKEY_<name>=<value>; Pacemaker sets them from the resource's options.")
	fmt.Fprintln(w, "`--version` prints the package version.")
	fmt.Fprintln(w, "\nparameters:")
	params := append([]Param(nil), a.Params...)
	sort.SliceStable(params, func(i, j int) bool { return params[i].Required && !params[j].Required })
	for _, p := range params {
		extra := string(p.Type)
		if extra == "" {
			extra = "string"
		}
		if p.Required {
			extra += ", required"
		}
		if p.Default != "" {
			extra += ", default " + p.Default
		}
		fmt.Fprintf(w, "  %-20s %s (%s)\n", p.Name, p.Short, extra)
	}
}

// Main runs the agent with the process's arguments and environment.
func Main(a *Agent) {
	os.Exit(Run(a, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Run dispatches one action and returns the OCF exit code. Failures print
// an `ocf-exit-reason:` line on stderr for Pacemaker.
func Run(a *Agent, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		a.Usage(stderr)
		return ErrArgs
	}
	action := args[0]
	switch action {
	case "meta-data":
		if err := WriteMetadata(stdout, a); err != nil {
			return ErrGeneric
		}
		return Success
	case "usage", "help", "-h", "--help", "methods":
		a.Usage(stdout)
		return Success
	case "--version", "version":
		fmt.Fprintf(stdout, "%s (ocf-lvs) %s\n", a.Name, version.String())
		return Success
	}

	var fn Func
	switch action {
	case "start":
		fn = a.Start
	case "stop":
		fn = a.Stop
	case "monitor", "status":
		fn = a.Monitor
	case "validate-all":
		fn = func(*Context) error { return nil } // validation runs below
	case "reload":
		fn = a.Reload
	case "notify":
		fn = a.Notify
	default:
		a.Usage(stderr)
		return ErrUnimplemented
	}
	if fn == nil {
		return ErrUnimplemented
	}

	inst := env("OCF_RESOURCE_INSTANCE")
	if inst == "" {
		inst = "default"
	}
	log := NewLogger(fmt.Sprintf("%s(%s)", a.Name, inst), env, stderr)
	defer log.Close()
	c := &Context{Agent: a, Action: action, Env: env, Instance: inst, Log: log, Stdout: stdout}
	if ms, err := strconv.Atoi(env("OCF_RESKEY_CRM_meta_interval")); err == nil {
		c.Interval = time.Duration(ms) * time.Millisecond
	}
	if ms, err := strconv.Atoi(env("OCF_RESKEY_CRM_meta_timeout")); err == nil {
		c.Timeout = time.Duration(ms) * time.Millisecond
	}
	c.Probe = (action == "monitor" || action == "status") && c.Interval == 0
	c.CheckLevel, _ = strconv.Atoi(env("OCF_CHECK_LEVEL"))

	err := run(c, fn)
	code := CodeOf(err)
	if err != nil && err.Error() != "" {
		if e, ok := err.(*Error); ok && e.Reason == "" {
			return code // a bare code, e.g. monitor's "not running"
		}
		if code == NotRunning {
			log.Info("%s: %v", action, err)
		} else {
			log.Error("%s: %v", action, err)
		}
		// Pacemaker shows the last ocf-exit-reason line to the operator.
		fmt.Fprintf(stderr, "ocf-exit-reason:%s\n", err.Error())
	}
	return code
}

func run(c *Context, fn Func) error {
	vals, err := Parse(c.Agent.Params, c.Env)
	c.Params = vals
	if err != nil {
		return err
	}
	if err := Validate(c.Agent.Params, vals); err != nil {
		return err
	}
	if c.Agent.Validate != nil {
		if err := c.Agent.Validate(c); err != nil {
			return err
		}
	}
	return fn(c)
}
