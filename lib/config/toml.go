package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The ocf-lvs TOML format: the same model, strict (an unknown key is an
// error naming its line). Director keys keep ldirectord's names
// (checktimeout, quiescent, ...); VRRP keys keep keepalived's
// (virtual_router_id, advert_int, ...). Durations are "5s", "1.5s", "100ms"
// or a number of seconds.

type duration struct {
	d   time.Duration
	set bool
}

func (d *duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 || x > 1<<31 {
			return fmt.Errorf("duration %d out of range", x)
		}
		d.d = time.Duration(x) * time.Second
	case float64:
		if x < 0 || x > 1<<31 || x != x {
			return fmt.Errorf("duration %v out of range", x)
		}
		d.d = time.Duration(x * float64(time.Second))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. \"5s\", \"100ms\" or a number of seconds)", x)
		}
		if p < 0 {
			return fmt.Errorf("negative duration %q", x)
		}
		d.d = p
	default:
		return fmt.Errorf("invalid duration %v (want e.g. \"5s\" or a number of seconds)", v)
	}
	d.set = true
	return nil
}

type tomlFile struct {
	Global        tomlGlobal    `toml:"global"`
	Virtual       []tomlVirtual `toml:"virtual"`
	VRRPInstance  []tomlVRRP    `toml:"vrrp_instance"`
	VRRPScript    []tomlScript  `toml:"vrrp_script"`
	VRRPSyncGroup []tomlSync    `toml:"vrrp_sync_group"`
	TrackFile     []tomlFileDef `toml:"track_file"`
	LVSSyncDaemon *tomlLVSSync  `toml:"lvs_sync_daemon"`
}

type tomlFileDef struct {
	Name      string `toml:"name"`
	File      string `toml:"file"`
	Weight    *int   `toml:"weight"`
	InitFile  *int   `toml:"init_file"` // the value written at start when the file is missing
	Overwrite bool   `toml:"init_file_overwrite"`
	Reverse   bool   `toml:"reverse"` // weight reverse: the default of those tracking it
}

type tomlLVSSync struct {
	Interface string `toml:"interface"`
	Instance  string `toml:"instance"`
	ID        *int   `toml:"id"` // default: the instance's VRID
	MaxLen    int    `toml:"maxlen"`
	Port      int    `toml:"port"`
	TTL       int    `toml:"ttl"`
	Group     string `toml:"group"`
}

type tomlGlobal struct {
	CheckInterval    duration  `toml:"checkinterval"`
	CheckTimeout     duration  `toml:"checktimeout"`
	NegotiateTimeout duration  `toml:"negotiatetimeout"`
	CheckCount       *int      `toml:"checkcount"`
	FailureCount     *int      `toml:"failurecount"`
	Fallback         *tomlReal `toml:"fallback"`
	Fallback6        *tomlReal `toml:"fallback6"`
	FallbackCommand  string    `toml:"fallbackcommand"`
	AutoReload       bool      `toml:"autoreload"`
	Callback         string    `toml:"callback"`
	LogFile          *string   `toml:"logfile"`
	Execute          []string  `toml:"execute"`
	Fork             bool      `toml:"fork"`
	Supervised       bool      `toml:"supervised"`
	Quiescent        bool      `toml:"quiescent"`
	ReaddQuiescent   bool      `toml:"readdquiescent"`
	CleanStop        *bool     `toml:"cleanstop"`
	MaintenanceDir   string    `toml:"maintenancedir"`
	EmailAlert       string    `toml:"emailalert"`
	EmailAlertFreq   duration  `toml:"emailalertfreq"`
	EmailAlertStatus []string  `toml:"emailalertstatus"`
	EmailAlertFrom   string    `toml:"emailalertfrom"`
	SMTP             string    `toml:"smtp"`
	SMTPHelo         string    `toml:"smtp_helo_name"`
	SMTPTimeout      duration  `toml:"smtp_connect_timeout"`
	Metrics          string    `toml:"metrics"`
	RouterID         string    `toml:"router_id"`
	VRRPRTPriority   *int      `toml:"vrrp_rt_priority"`
	NotifyFIFO       string    `toml:"notify_fifo"`
	LVSNotifyFIFO    string    `toml:"lvs_notify_fifo"`
	VRRPNotifyFIFO   string    `toml:"vrrp_notify_fifo"`
}

type tomlVirtual struct {
	Address          string     `toml:"address"`
	FWMark           uint32     `toml:"fwmark"`
	Family           int        `toml:"family"`
	Protocol         string     `toml:"protocol"`
	Scheduler        string     `toml:"scheduler"`
	SchedFlags       []string   `toml:"schedflags"`
	Persistent       duration   `toml:"persistent"`
	Netmask          string     `toml:"netmask"`
	OPS              bool       `toml:"ops"`
	Fallback         *tomlReal  `toml:"fallback"`
	FallbackCommand  *string    `toml:"fallbackcommand"`
	Quiescent        *bool      `toml:"quiescent"`
	CleanStop        *bool      `toml:"cleanstop"`
	MonitorFile      string     `toml:"monitorfile"`
	ServiceName      string     `toml:"servicename"`
	Comment          string     `toml:"comment"`
	EmailAlert       *string    `toml:"emailalert"`
	EmailAlertFreq   duration   `toml:"emailalertfreq"`
	EmailAlertStatus []string   `toml:"emailalertstatus"`
	SMTP             *string    `toml:"smtp"`
	MailStyle        string     `toml:"mail_style"`
	SMTPAlert        bool       `toml:"smtp_alert"`
	Quorum           int        `toml:"quorum"`
	Hysteresis       int        `toml:"hysteresis"`
	QuorumUp         string     `toml:"quorum_up"`
	QuorumDown       string     `toml:"quorum_down"`
	InhibitOnFailure bool       `toml:"inhibit_on_failure"`
	Check            *tomlCheck `toml:"check"`
	Real             []tomlReal `toml:"real"`
}

type tomlReal struct {
	Address    string     `toml:"address"`
	Forward    string     `toml:"forward"`
	Weight     *int       `toml:"weight"`
	Lower      int        `toml:"lower"`
	Upper      int        `toml:"upper"`
	Request    *string    `toml:"request"`
	Receive    *string    `toml:"receive"`
	Quiescent  *bool      `toml:"quiescent"`
	Check      *tomlCheck `toml:"check"`
	NotifyUp   string     `toml:"notify_up"`
	NotifyDown string     `toml:"notify_down"`
	SMTPAlert  *bool      `toml:"smtp_alert"`
	// FileCheck: keepalived FILE_CHECK, the real follows track files
	FileCheck []tomlFileCheck `toml:"file_check"`
}

type tomlFileCheck struct {
	TrackFile string `toml:"track_file"`
	Weight    *int   `toml:"weight"`  // default: the track_file's
	Reverse   *bool  `toml:"reverse"` // default: the track_file's
}

type tomlCheck struct {
	Type             string   `toml:"type"`
	NegotiateEvery   int      `toml:"negotiate_every"`
	Protocol         string   `toml:"protocol"`
	Service          string   `toml:"service"`
	Port             int      `toml:"port"`
	Request          *string  `toml:"request"`
	Receive          string   `toml:"receive"`
	HTTPMethod       string   `toml:"httpmethod"`
	VirtualHost      string   `toml:"virtualhost"`
	Login            string   `toml:"login"`
	Passwd           string   `toml:"passwd"`
	Database         string   `toml:"database"`
	Secret           string   `toml:"secret"`
	Command          string   `toml:"checkcommand"`
	CommandShell     bool     `toml:"checkcommand_shell"`
	CommandDynamic   bool     `toml:"checkcommand_dynamic"` // keepalived misc_dynamic: the exit status sets the weight
	CommandUser      string   `toml:"checkcommand_user"`    // keepalived MISC_CHECK user
	CommandGroup     string   `toml:"checkcommand_group"`
	Interval         duration `toml:"checkinterval"`
	CheckTimeout     duration `toml:"checktimeout"`
	NegotiateTimeout duration `toml:"negotiatetimeout"`
	Count            *int     `toml:"checkcount"`
	FailureCount     *int     `toml:"failurecount"`
	VerifyTLS        bool     `toml:"verify_tls"`
	StatusCodes      []string `toml:"status_codes"`
	Digest           string   `toml:"digest"`
	DNSType          string   `toml:"dns_type"`
	DNSName          string   `toml:"dns_name"`
	RetryDelay       duration `toml:"retry_delay"`
	StartUp          bool     `toml:"start_up"` // keepalived without alpha
	Warmup           duration `toml:"warmup"`
	// Also: more checks of the same reals that must pass too, run with
	// this one on its schedule (keepalived's several checkers or urls)
	Also []tomlCheck `toml:"also"`
	// type = "udp" (keepalived UDP_CHECK): bytes in hex
	UDPPayload   string `toml:"udp_payload"`
	RequireReply bool   `toml:"require_reply"`
	Reply        string `toml:"reply"`
	MinReply     int    `toml:"min_reply_length"`
	MaxReply     int    `toml:"max_reply_length"`
}

type tomlVRRP struct {
	Name              string      `toml:"name"`
	Interface         string      `toml:"interface"`
	VirtualRouterID   int         `toml:"virtual_router_id"`
	Priority          *int        `toml:"priority"`
	State             string      `toml:"state"`
	NoPreempt         bool        `toml:"nopreempt"`
	PreemptDelay      duration    `toml:"preempt_delay"`
	AdvertInt         duration    `toml:"advert_int"`
	Version           int         `toml:"version"`
	AuthType          string      `toml:"auth_type"`
	AuthPass          string      `toml:"auth_pass"`
	UnicastSrcIP      string      `toml:"unicast_src_ip"`
	UnicastPeer       []string    `toml:"unicast_peer"`
	VirtualIPAddress  []string    `toml:"virtual_ipaddress"`
	TrackScript       []tomlTrack `toml:"track_script"`
	TrackInterface    []tomlTrack `toml:"track_interface"`
	TrackFile         []tomlTrack `toml:"track_file"`
	NotifyMaster      string      `toml:"notify_master"`
	NotifyBackup      string      `toml:"notify_backup"`
	NotifyFault       string      `toml:"notify_fault"`
	NotifyStop        string      `toml:"notify_stop"`
	Notify            string      `toml:"notify"`
	GARPMasterDelay   *duration   `toml:"garp_master_delay"`
	GARPMasterRepeat  *int        `toml:"garp_master_repeat"`
	GARPMasterRefresh duration    `toml:"garp_master_refresh"`
	GARPRefreshRepeat *int        `toml:"garp_master_refresh_repeat"`
	GARPLowerRepeat   *int        `toml:"garp_lower_prio_repeat"`
	GARPLowerDelay    *duration   `toml:"garp_lower_prio_delay"`
	LowerPrioNoAdv    bool        `toml:"lower_prio_no_advert"`
	SMTPAlert         bool        `toml:"smtp_alert"`
	Excluded          []string    `toml:"virtual_ipaddress_excluded"`
	Accept            *bool       `toml:"accept"`
	StartupDelay      duration    `toml:"vrrp_startup_delay"`
	UnicastFaultNo    bool        `toml:"unicast_fault_no_peer"`
	ChecksumAsV2      bool        `toml:"v3_checksum_as_v2"`
	OldUnicastCsum    string      `toml:"old_unicast_checksum"` // "always" or "never"
}

type tomlTrack struct {
	Name    string `toml:"name"`
	Weight  int    `toml:"weight"`
	Reverse bool   `toml:"reverse"`
}

type tomlScript struct {
	Name     string   `toml:"name"`
	Script   string   `toml:"script"`
	Interval duration `toml:"interval"`
	Timeout  duration `toml:"timeout"`
	Weight   int      `toml:"weight"`
	Reverse  bool     `toml:"reverse"`
	Rise     *int     `toml:"rise"`
	Fall     *int     `toml:"fall"`
	InitFail bool     `toml:"init_fail"`
}

type tomlSync struct {
	Name         string   `toml:"name"`
	Group        []string `toml:"group"`
	NotifyMaster string   `toml:"notify_master"`
	NotifyBackup string   `toml:"notify_backup"`
	NotifyFault  string   `toml:"notify_fault"`
	Notify       string   `toml:"notify"`
	Weight       bool     `toml:"sync_group_tracking_weight"`
	SMTPAlert    bool     `toml:"smtp_alert"`
}

// tomlLines maps key paths to the line that sets them, both with array
// indexes ("virtual[2].real[0].address") and without ("virtual.real.address",
// first occurrence): BurntSushi/toml does not expose key positions.
type tomlLines struct {
	indexed, plain map[string]int
}

var (
	reTOMLErrLine = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)
	reHeader      = regexp.MustCompile(`^\s*(\[\[?)\s*([A-Za-z0-9_.\s"-]+?)\s*\]\]?\s*(#.*)?$`)
	reKey         = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=`)
)

func scanTOMLLines(data []byte) tomlLines {
	tl := tomlLines{indexed: map[string]int{}, plain: map[string]int{}}
	count := map[string]int{} // array-table path -> elements so far
	ctxI, ctxP := "", ""
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if m := reHeader.FindStringSubmatch(line); m != nil {
			segs := strings.Split(strings.ReplaceAll(m[2], " ", ""), ".")
			if m[1] == "[[" {
				p := strings.Join(segs, ".")
				count[p]++
				for k := range count { // a new parent element restarts its children
					if strings.HasPrefix(k, p+".") {
						delete(count, k)
					}
				}
			}
			ctxI, ctxP = "", strings.Join(segs, ".")
			for j := range segs {
				p := strings.Join(segs[:j+1], ".")
				if ctxI != "" {
					ctxI += "."
				}
				ctxI += segs[j]
				if c, ok := count[p]; ok {
					ctxI += fmt.Sprintf("[%d]", c-1)
				}
			}
			tl.indexed[ctxI] = n
			if _, ok := tl.plain[ctxP]; !ok {
				tl.plain[ctxP] = n
			}
			continue
		}
		if m := reKey.FindStringSubmatch(line); m != nil {
			ki, kp := m[1], m[1]
			if ctxI != "" {
				ki, kp = ctxI+"."+ki, ctxP+"."+kp
			}
			tl.indexed[ki] = n
			if _, ok := tl.plain[kp]; !ok {
				tl.plain[kp] = n
			}
		}
	}
	return tl
}

// line finds the line of an indexed path, else of its nearest parent.
func (tl tomlLines) line(path string) int {
	for path != "" {
		if n, ok := tl.indexed[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

type tomlReader struct {
	d     diags
	o     Options
	lines tomlLines
	re    patterns              // receive patterns compiled so far
	skip  map[int]bool          // header lines of tables with a blanked line
	files map[string]*TrackFile // [[track_file]] by name (read before the virtuals)
}

// suggestKey is " (did you mean ...?)" for an unknown key path whose last
// part is close to a key of its table ("" if none); the keys are the
// toml tags of the table's struct.
func suggestKey(path string) string {
	segs := strings.Split(path, ".")
	t := reflect.TypeOf(tomlFile{})
	if len(segs) > 1 {
		t = fieldType(strings.Join(segs[:len(segs)-1], "."))
	}
	for t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	if m := closest(segs[len(segs)-1], names); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

func tomlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// tomlError is the line and message of a decode error.
func tomlError(text string, err error) (int, string) {
	var pe toml.ParseError
	var ppe *toml.ParseError
	if errors.As(err, &ppe) {
		pe = *ppe
	}
	if errors.As(err, &pe) || ppe != nil {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
		}
		return pe.Position.Line, msg
	}
	if m := reTOMLErrLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		if l := badValueLine(text, m[2]); l > 0 {
			n = l
		}
		return n, fmt.Sprintf("%s: %s", m[2], m[3])
	}
	return 0, err.Error()
}

// badValueLine finds the line whose value for key path (no indexes) does
// not decode: BurntSushi/toml names the last line setting that path, which
// is wrong when an earlier [[virtual.real]] has the bad value. Each line
// setting the path is decoded alone into the field's type; 0: not found.
func badValueLine(text, path string) int {
	ft := fieldType(path)
	if ft == nil {
		return 0
	}
	st := reflect.StructOf([]reflect.StructField{{Name: "X", Type: ft, Tag: `toml:"x"`}})
	ctx := ""
	for i, line := range strings.Split(text, "\n") {
		if m := reHeader.FindStringSubmatch(line); m != nil {
			ctx = strings.ReplaceAll(m[2], " ", "")
			continue
		}
		m := reKey.FindStringSubmatch(line)
		if m == nil || strings.TrimPrefix(ctx+"."+m[1], ".") != path {
			continue
		}
		_, val, _ := strings.Cut(line, "=")
		_, err := toml.Decode("x ="+val, reflect.New(st).Interface())
		var pe toml.ParseError
		if err != nil && !errors.As(err, &pe) { // a syntax error: a value on several lines
			return i + 1
		}
	}
	return 0
}

// fieldType is the Go type of the tomlFile field at path ("global.checkinterval").
func fieldType(path string) reflect.Type {
	t := reflect.TypeOf(tomlFile{})
	for _, seg := range strings.Split(path, ".") {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := tomlField(t, seg)
		if !ok {
			return nil
		}
		t = f.Type
	}
	return t
}

// blankTOML empties line n of text (1-based), keeping the line count; a
// table header takes the lines of its table with it, which would otherwise
// land in the previous table as unknown keys.
func blankTOML(text string, n int, blanked map[int]bool) string {
	lines := strings.Split(text, "\n")
	for i := n - 1; i < len(lines); i++ {
		if i > n-1 && strings.HasPrefix(strings.TrimSpace(lines[i]), "[") {
			break
		}
		header := strings.HasPrefix(strings.TrimSpace(lines[i]), "[")
		lines[i] = ""
		blanked[i+1] = true
		if i == n-1 && !header {
			break
		}
	}
	return strings.Join(lines, "\n")
}

// tableLines are the header lines of the tables holding a blanked line.
func tableLines(text string, blanked map[int]bool) map[int]bool {
	if len(blanked) == 0 {
		return nil
	}
	lines := strings.Split(text, "\n")
	out := map[int]bool{}
	for n := range blanked {
		for i := n - 1; i >= 0; i-- {
			if strings.HasPrefix(strings.TrimSpace(lines[i]), "[") {
				out[i+1] = true
				break
			}
		}
	}
	return out
}

func parseTOML(name string, data []byte, o Options) (*Config, error) {
	r := &tomlReader{d: diags{file: name}, o: o, lines: scanTOMLLines(data)}
	// BurntSushi/toml stops at the first syntax or type error: report it,
	// blank its line (a header: its whole table) and decode again, so that
	// one run lists every such error.
	text := string(data)
	var f tomlFile
	md, err := toml.Decode(text, &f)
	blanked := map[int]bool{}
	for err != nil {
		n, msg := tomlError(text, err)
		r.d.errorf(n, "%s", msg)
		if n <= 0 || blanked[n] || len(r.d.errs) >= maxErrors {
			return nil, r.d.fail()
		}
		text = blankTOML(text, n, blanked)
		f = tomlFile{}
		md, err = toml.Decode(text, &f)
	}
	r.skip = tableLines(string(data), blanked)
	unknown := map[string]bool{}
	for _, k := range md.Undecoded() {
		p := k.String()
		unknown[p] = true
		if len(k) > 1 && unknown[k[:len(k)-1].String()] {
			continue // the keys of an unknown table: its name is the one error
		}
		n := r.lines.plain[p]
		r.d.errorf(n, "unknown key %q%s", p, suggestKey(p))
	}
	cfg := r.build(&f)
	cfg.Source, cfg.Format = name, "toml"
	cfg.Warnings = sorted(r.d.warnings)
	if len(r.d.errs) > 0 {
		return nil, r.d.fail()
	}
	return cfg, nil
}

func (r *tomlReader) errorf(path, format string, args ...any) {
	n := r.lines.line(path)
	if r.skip[n] {
		return // a table whose line with an error was blanked: "needs address" would repeat that error
	}
	r.d.errorf(n, "%s: %s", path, fmt.Sprintf(format, args...))
}

// warnf is errorf's warning.
func (r *tomlReader) warnf(path, format string, args ...any) {
	r.d.warnf(r.lines.line(path), "%s: %s", path, fmt.Sprintf(format, args...))
}

// errorAt reports an error at a line found earlier (a check across tables).
func (r *tomlReader) errorAt(line int, format string, args ...any) {
	r.d.errorf(line, format, args...)
}

func orInt(p *int, def int) int {
	if p != nil {
		return *p
	}
	return def
}

func orDur(d duration, def time.Duration) time.Duration {
	if d.set {
		return d.d
	}
	return def
}

func (r *tomlReader) build(f *tomlFile) *Config {
	c := &Config{}
	tg := &f.Global
	g := &c.Global
	g.CheckInterval = orDur(tg.CheckInterval, DefaultCheckInterval)
	g.CheckTimeout = orDur(tg.CheckTimeout, 0)
	g.NegotiateTimeout = orDur(tg.NegotiateTimeout, 0)
	g.CheckCount = orInt(tg.CheckCount, 1)
	g.FailureCount = orInt(tg.FailureCount, 1)
	if g.CheckInterval <= 0 {
		r.errorf("global.checkinterval", "must be positive")
	}
	if g.CheckCount < 1 || g.FailureCount < 1 {
		r.errorf("global", "checkcount and failurecount must be at least 1")
	}
	if tg.Fallback != nil {
		g.Fallback = r.real("global.fallback", tg.Fallback, 4, "tcp", true)
	}
	if tg.Fallback6 != nil {
		g.Fallback6 = r.real("global.fallback6", tg.Fallback6, 6, "tcp", true)
	}
	g.FallbackCommand, g.AutoReload, g.Callback = tg.FallbackCommand, tg.AutoReload, tg.Callback
	g.LogFile = DefaultLogFile
	if tg.LogFile != nil {
		g.LogFile = *tg.LogFile
	}
	g.Execute, g.Fork, g.Supervised = tg.Execute, tg.Fork, tg.Supervised
	g.Quiescent, g.ReaddQuiescent = tg.Quiescent, tg.ReaddQuiescent
	g.CleanStop = tg.CleanStop == nil || *tg.CleanStop
	g.MaintenanceDir, g.EmailAlert, g.EmailAlertFrom, g.SMTP = tg.MaintenanceDir, tg.EmailAlert, tg.EmailAlertFrom, tg.SMTP
	g.SMTPHelo, g.SMTPConnectTimeout = tg.SMTPHelo, tg.SMTPTimeout.d
	g.EmailAlertFreq = orDur(tg.EmailAlertFreq, 0)
	g.EmailAlertStatus = r.emailStatus("global.emailalertstatus", tg.EmailAlertStatus)
	g.NotifyFIFO, g.LVSNotifyFIFO, g.VRRPNotifyFIFO = tg.NotifyFIFO, tg.LVSNotifyFIFO, tg.VRRPNotifyFIFO
	for _, kv := range [][2]string{{"notify_fifo", g.NotifyFIFO}, {"lvs_notify_fifo", g.LVSNotifyFIFO}, {"vrrp_notify_fifo", g.VRRPNotifyFIFO}} {
		if kv[1] != "" && !strings.HasPrefix(kv[1], "/") {
			r.errorf("global."+kv[0], "%q is not an absolute path", kv[1])
		}
	}
	if p := tg.VRRPRTPriority; p != nil {
		g.VRRPRTPriority = *p // unset: 0, the default
		if *p == 0 {
			g.VRRPRTPriority = VRRPRTOff
		}
		if *p < 0 || *p > 99 {
			r.errorf("global.vrrp_rt_priority", "vrrp_rt_priority must be 1..99 (0: off)")
		}
	}
	g.RouterID = tg.RouterID
	if g.Metrics = tg.Metrics; g.Metrics != "" {
		if _, port, err := net.SplitHostPort(g.Metrics); err != nil || port == "" {
			r.errorf("global.metrics", "%q is not host:port (127.0.0.1:9101, [::1]:9101, :9101)", g.Metrics)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			r.errorf("global.metrics", "port %q of %q is not a port number", port, g.Metrics)
		}
	}

	r.trackFiles(f, c)
	seen := map[string]int{}
	for i := range f.Virtual {
		path := fmt.Sprintf("virtual[%d]", i)
		v := r.virtual(path, &f.Virtual[i], c)
		if v == nil {
			continue
		}
		if j, dup := seen[v.Key()]; dup {
			r.errorf(path, "duplicate virtual service %s (also virtual[%d])", v.Key(), j)
		}
		seen[v.Key()] = i
		c.Virtuals = append(c.Virtuals, v)
	}
	r.vrrp(f, c)
	return c
}

func (r *tomlReader) emailStatus(path string, s []string) []string {
	if len(s) == 0 {
		return []string{"all"}
	}
	for _, x := range s {
		switch x {
		case "all", "none", "starting", "running", "stopping", "reloading":
		default:
			r.errorf(path, "invalid email alert status %q", x)
		}
		if x == "none" && len(s) > 1 {
			r.errorf(path, "\"none\" cannot be combined with other statuses")
		}
	}
	return s
}

func (r *tomlReader) virtual(path string, tv *tomlVirtual, c *Config) *Virtual {
	g := &c.Global
	v := &Virtual{Line: r.lines.line(path), Scheduler: "wrr", Family: 4}
	switch {
	case tv.Address != "" && tv.FWMark != 0:
		r.errorf(path, "give either address or fwmark, not both")
		return nil
	case tv.FWMark != 0:
		v.Protocol, v.FWMark = "fwm", tv.FWMark
		switch tv.Family {
		case 0, 4:
		case 6:
			v.Family = 6
		default:
			r.errorf(path+".family", "family must be 4 or 6")
		}
		if tv.Protocol != "" && tv.Protocol != "fwm" {
			r.errorf(path+".protocol", "protocol must be fwm (or absent) for a firewall mark")
		}
	case tv.Address != "":
		host, port, ok := splitHostPort(tv.Address)
		if !ok {
			r.errorf(path+".address", "invalid address %q (want ip:port or [ipv6]:port)", tv.Address)
			return nil
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			addrs, rerr := r.o.Resolver(host, strings.Contains(tv.Address, "["))
			if rerr != nil || len(addrs) == 0 || !validHostname(host) {
				r.errorf(path+".address", "cannot resolve %q", host)
				return nil
			}
			a = addrs[0]
		}
		v.Addr = a.Unmap()
		if v.Addr.Is6() {
			v.Family = 6
		}
		v.Protocol = "tcp"
		if port == "53" || port == "domain" {
			v.Protocol = "udp"
		}
		switch tv.Protocol {
		case "":
		case "tcp", "udp", "sctp":
			v.Protocol = Protocol(tv.Protocol)
		default:
			r.errorf(path+".protocol", "protocol must be tcp, udp or sctp for an address, not %q", tv.Protocol)
		}
		p, ok := lookupPort(port, v.Protocol)
		if !ok {
			r.errorf(path+".address", "invalid port %q", port)
		}
		v.Port = p
		if tv.Family != 0 && tv.Family != v.Family {
			r.errorf(path+".family", "family %d does not match address %s", tv.Family, v.Addr)
		}
	default:
		r.errorf(path, "a virtual service needs address = \"ip:port\" or fwmark = N")
		return nil
	}
	if tv.Scheduler != "" {
		if msg := schedulerProblem(tv.Scheduler); msg != "" {
			r.errorf(path+".scheduler", "%s", msg)
		}
		v.Scheduler = tv.Scheduler
	}
	v.SchedFlags = tv.SchedFlags
	v.Persistent = orDur(tv.Persistent, 0)
	if v.Persistent%time.Second != 0 {
		r.errorf(path+".persistent", "persistence is whole seconds")
	}
	v.Netmask = tv.Netmask
	v.OnePacket = tv.OPS
	resolveVirtual(v, vSite{schedFlagsLine: r.lines.line(path + ".schedflags"), netmaskLine: r.lines.line(path + ".netmask"),
		opsLine: r.lines.line(path + ".ops"), schedFlagsName: path + ".schedflags", netmaskName: path + ".netmask",
		opsName: path + ".ops"}, r.d.errorf, r.d.warnf)
	v.MonitorFile, v.ServiceName, v.Comment = tv.MonitorFile, tv.ServiceName, tv.Comment
	v.Quorum, v.Hysteresis, v.QuorumUp, v.QuorumDown = tv.Quorum, tv.Hysteresis, tv.QuorumUp, tv.QuorumDown
	v.InhibitOnFailure = tv.InhibitOnFailure

	// behaviour: the virtual's value, else the global one
	v.Quiescent = g.Quiescent || tv.InhibitOnFailure
	if tv.Quiescent != nil {
		v.Quiescent = *tv.Quiescent
	}
	v.CleanStop = g.CleanStop
	if tv.CleanStop != nil {
		v.CleanStop = *tv.CleanStop
	}
	v.FallbackCommand = g.FallbackCommand
	if tv.FallbackCommand != nil {
		v.FallbackCommand = *tv.FallbackCommand
	}
	v.EmailAlert, v.EmailAlertFreq, v.EmailAlertStatus, v.SMTP = g.EmailAlert, g.EmailAlertFreq, g.EmailAlertStatus, g.SMTP
	if tv.EmailAlert != nil {
		v.EmailAlert = *tv.EmailAlert
	}
	v.EmailAlertFreq = orDur(tv.EmailAlertFreq, v.EmailAlertFreq)
	if tv.EmailAlertStatus != nil {
		v.EmailAlertStatus = r.emailStatus(path+".emailalertstatus", tv.EmailAlertStatus)
	}
	if tv.SMTP != nil {
		v.SMTP = *tv.SMTP
	}
	switch v.MailStyle, v.QuorumAlert = tv.MailStyle, tv.SMTPAlert; v.MailStyle {
	case "", "ldirectord":
		v.MailStyle = ""
		if tv.SMTPAlert {
			r.errorf(path+".smtp_alert", "smtp_alert (keepalived's quorum mails) needs mail_style = \"keepalived\"")
		}
	case "keepalived":
	default:
		r.errorf(path+".mail_style", "mail_style %q: ldirectord (the default) or keepalived", tv.MailStyle)
	}

	v.Check = r.check(path+".check", tv.Check, v, g, nil)
	for i := range tv.Real {
		rp := fmt.Sprintf("%s.real[%d]", path, i)
		rl := r.real(rp, &tv.Real[i], v.Family, v.Protocol, false)
		if rl == nil {
			continue
		}
		if rl.Port == 0 && v.Protocol != "fwm" {
			rl.Port = v.Port
		}
		if msg := fixRealPort(v, rl); msg != "" {
			r.d.warnf(rl.Line, "%s: %s", rp, msg)
		}
		if tv.Real[i].Check != nil {
			ch := r.check(rp+".check", tv.Real[i].Check, v, g, &v.Check)
			rl.Check = &ch
		}
		for _, o := range v.Reals {
			if o.Addr == rl.Addr && o.Port == rl.Port {
				r.errorf(rp, "duplicate real server %s", rl.HostPort())
			}
		}
		v.Reals = append(v.Reals, rl)
	}
	if tv.Fallback != nil {
		v.Fallback = r.real(path+".fallback", tv.Fallback, v.Family, v.Protocol, true)
	}
	inheritFallback(v, g)
	if zeroPortProblem(v) {
		r.errorf(path+".address", "port 0 (every port) is only valid for a persistent service; ipvsadm "+
			"refuses it (\"Zero port specified for non-persistent service\") (fix: give the port, address = \"%s\", "+
			"or persistent = \"300s\" to balance every port)", netip.AddrPortFrom(v.Addr, 80))
	}
	if emptyVirtual(v) && len(tv.Real) == 0 { // reals with errors: those are reported
		r.d.warnf(v.Line, "%s: %s", path, emptyVirtualMsg(v.Key(), "add [[virtual.real]] tables (address, forward) to it, or a fallback"))
	}
	what, at := "service dns (the default for its port)", path+".address"
	if tv.Check != nil && tv.Check.Service != "" {
		what, at = "service = \"dns\"", path+".check.service"
	}
	dnsProblems(v, what, `request = "www.example.com" and receive = '192\.0\.2\.1'`, func(rl *Real, msg string) {
		if rl == nil {
			r.errorf(at, "%s", msg)
			return
		}
		for i, o := range v.Reals {
			if o == rl {
				r.errorf(fmt.Sprintf("%s.real[%d]", path, i), "%s", msg)
			}
		}
	})
	return v
}

// real reads a real server (or a fallback) table.
func (r *tomlReader) real(path string, tr *tomlReal, family int, proto Protocol, fallback bool) *Real {
	rl := &Real{Line: r.lines.line(path), Forward: "gate", Weight: orInt(tr.Weight, 1)}
	s := tr.Address
	host, port := s, ""
	if h, p, ok := splitHostPort(s); ok {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		addrs, rerr := r.o.Resolver(host, family == 6)
		if host == "" || rerr != nil || len(addrs) == 0 || !validHostname(host) {
			r.errorf(path+".address", "invalid address %q", s)
			return nil
		}
		a = addrs[0]
	}
	rl.Addr = a.Unmap()
	if (rl.Addr.Is6()) != (family == 6) {
		r.errorf(path+".address", "address %s is not of the virtual service's family (IPv%d)", rl.Addr, family)
	}
	if port != "" {
		p, ok := lookupPort(port, proto)
		if !ok {
			r.errorf(path+".address", "invalid port %q", port)
		}
		rl.Port = p
	}
	if tr.Forward != "" {
		if !isForward(tr.Forward) {
			r.errorf(path+".forward", "forward must be gate, masq or ipip, not %q", tr.Forward)
		}
		rl.Forward = Forward(tr.Forward)
	}
	if rl.Weight < 0 || rl.Weight > 65535 {
		r.errorf(path+".weight", "weight must be 0..65535")
	}
	if tr.Lower < 0 || tr.Upper < 0 {
		r.errorf(path, "thresholds must not be negative")
	}
	rl.Lower, rl.Upper = tr.Lower, tr.Upper
	if (tr.Request == nil) != (tr.Receive == nil) {
		r.errorf(path, "request and receive are overridden together")
	} else if tr.Request != nil {
		rl.Request, rl.Receive, rl.HasOverride = *tr.Request, *tr.Receive, true
		var msg string
		if rl.ReceiveRE, msg = r.re.compile("receive", rl.Receive); msg != "" {
			r.errorf(path+".receive", "%s", msg)
		}
	}
	rl.Quiescent = tr.Quiescent
	rl.NotifyUp, rl.NotifyDown = tr.NotifyUp, tr.NotifyDown
	rl.NoAlert = tr.SMTPAlert != nil && !*tr.SMTPAlert
	for i, fc := range tr.FileCheck {
		p := fmt.Sprintf("%s.file_check[%d]", path, i)
		tf := r.files[fc.TrackFile]
		if tf == nil {
			r.errorf(p+".track_file", "no [[track_file]] named %q", fc.TrackFile)
			continue
		}
		c := FileCheck{Line: r.lines.line(p), Track: tf, Weight: orInt(fc.Weight, tf.Weight), Reverse: tf.Reverse}
		if fc.Reverse != nil {
			c.Reverse = *fc.Reverse
		}
		if c.Weight < -math.MaxInt32 || c.Weight > math.MaxInt32 {
			r.errorf(p+".weight", "weight must be -%d..%d", math.MaxInt32, math.MaxInt32)
		}
		rl.Files = append(rl.Files, c)
	}
	if fallback && (tr.Check != nil || tr.Request != nil || tr.Quiescent != nil || tr.NotifyUp != "" || tr.NotifyDown != "" || len(tr.FileCheck) > 0) {
		r.errorf(path, "a fallback server has no check, request, receive, quiescent, notify or file_check")
	}
	return rl
}

var reStatus = regexp.MustCompile(`^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$`)

// check reads a [check] table; base (for a per-real check) is the virtual's.
func (r *tomlReader) check(path string, tc *tomlCheck, v *Virtual, g *Global, base *Check) Check {
	if tc == nil {
		tc = &tomlCheck{}
	}
	c := Check{Type: "negotiate", Request: "/", HTTPMethod: "GET"}
	if tc.Type != "" {
		c.Type = tc.Type
	}
	switch c.Type {
	case "negotiate", "connect", "ping", "external", "on", "off", "udp":
		if tc.NegotiateEvery != 0 {
			r.errorf(path+".negotiate_every", "only for type = \"combined\"")
		}
	case "combined":
		if tc.NegotiateEvery < 0 {
			r.errorf(path+".negotiate_every", "must not be negative")
		}
		c.NegotiateEvery = tc.NegotiateEvery
	default:
		r.errorf(path+".type", "type must be negotiate, connect, ping, udp, external, on, off or combined, not %q", c.Type)
	}
	switch tc.Protocol {
	case "":
	case "tcp", "udp":
		c.Proto = Protocol(tc.Protocol)
	default:
		r.errorf(path+".protocol", "protocol must be tcp or udp (the probe's transport; absent: the virtual's), not %q", tc.Protocol)
	}
	c.Service = tc.Service
	if c.Service == "" {
		if v.Protocol == "fwm" {
			c.Service = "none"
		} else {
			c.Service = ServiceForPort(v.Port)
		}
	} else if !isService(c.Service) {
		r.errorf(path+".service", "unknown service %q (one of %s)", c.Service, strings.Join(Services, ", "))
	}
	if tc.Port < 0 || tc.Port > 65535 {
		r.errorf(path+".port", "port must be 1..65535")
	}
	c.Port = uint16(tc.Port)
	if tc.Request != nil {
		c.Request = *tc.Request
	}
	c.Receive = tc.Receive
	var msg string
	if c.ReceiveRE, msg = r.re.compile("receive", c.Receive); msg != "" {
		r.errorf(path+".receive", "%s", msg)
	}
	if tc.HTTPMethod != "" {
		c.HTTPMethod = strings.ToUpper(tc.HTTPMethod)
		if c.HTTPMethod != "GET" && c.HTTPMethod != "HEAD" {
			r.errorf(path+".httpmethod", "httpmethod must be GET or HEAD")
		}
	}
	c.VirtualHost, c.Login, c.Passwd, c.Database, c.Secret = tc.VirtualHost, tc.Login, tc.Passwd, tc.Database, tc.Secret
	if c.Service == "ftp" && c.Login == "" {
		c.Login = "anonymous"
	}
	c.Command, c.MiscPath, c.Dynamic = tc.Command, tc.CommandShell, tc.CommandDynamic
	if c.Dynamic && c.Type != "external" {
		r.errorf(path+".checkcommand_dynamic", "checkcommand_dynamic needs type = \"external\"")
	}
	if tc.CommandUser != "" || tc.CommandGroup != "" {
		ra, err := LookupRunAs(tc.CommandUser, tc.CommandGroup)
		if err != nil {
			r.errorf(path+".checkcommand_user", "%v", err)
		}
		c.RunAs = ra
	}
	if msg := serviceProblem(&c, tc.Service == ""); msg != "" {
		r.warnf(path+".service", "%s", strings.NewReplacer("checktype=connect", "type = \"connect\"", "checktype=external with checkcommand", "type = \"external\" with checkcommand", "service=oracle", "service = \"oracle\"").Replace(msg))
	}
	if c.Type == "external" && c.Command == "" {
		c.Command = "/bin/true"
	}
	c.VerifyTLS, c.Digest, c.DNSType, c.DNSName = tc.VerifyTLS, tc.Digest, tc.DNSType, tc.DNSName
	if c.Digest != "" && !validDigest(c.Digest) {
		r.errorf(path+".digest", digestFix, c.Digest)
	}
	for _, s := range tc.StatusCodes {
		m := reStatus.FindStringSubmatch(s)
		if m == nil {
			r.errorf(path+".status_codes", "invalid status code range %q (want 200 or 200-299)", s)
			continue
		}
		lo, _ := strconv.Atoi(m[1])
		hi := lo
		if m[2] != "" {
			hi, _ = strconv.Atoi(m[2])
		}
		if hi < lo {
			r.errorf(path+".status_codes", "invalid range %q", s)
		}
		c.StatusCodes = append(c.StatusCodes, StatusRange{lo, hi})
	}
	for _, h := range []struct {
		key string
		in  string
		out *string
	}{{"udp_payload", tc.UDPPayload, &c.Payload}, {"reply", tc.Reply, &c.Reply}} {
		x, err := hex.DecodeString(h.in)
		if err != nil {
			r.errorf(path+"."+h.key, "invalid hex string %q", h.in)
		}
		*h.out = string(x)
	}
	c.RequireReply, c.MinReply, c.MaxReply = tc.RequireReply, tc.MinReply, tc.MaxReply
	if (c.Payload != "" || c.RequireReply || c.Reply != "" || c.MinReply != 0 || c.MaxReply != 0) && c.Type != "udp" {
		r.errorf(path+".type", "udp_payload, require_reply, reply and the reply lengths are for type = \"udp\"")
	}
	if c.MinReply < 0 || c.MaxReply < 0 || c.MaxReply > 65535 || c.MinReply > 65535 {
		r.errorf(path+".min_reply_length", "reply lengths are 0..65535")
	}
	c.RetryDelay = orDur(tc.RetryDelay, 0)
	c.StartUp = tc.StartUp
	if tc.Warmup.set {
		c.Warmup = tc.Warmup.d
		if c.Warmup <= 0 {
			c.Warmup = NoWarmup
		}
	}
	// timing: this check's, else (per-real) the virtual's, else global, as ldirectord resolves it
	ct, nt := tc.CheckTimeout, tc.NegotiateTimeout
	gi, gc, gf := g.CheckInterval, g.CheckCount, g.FailureCount
	if base != nil {
		gi, gc, gf = base.Interval, base.Count, base.FailureCount
	}
	c.Interval = orDur(tc.Interval, gi)
	c.Count = orInt(tc.Count, gc)
	c.FailureCount = orInt(tc.FailureCount, gf)
	if c.Interval <= 0 || c.Count < 1 || c.FailureCount < 1 {
		r.errorf(path, "checkinterval must be positive, checkcount and failurecount at least 1")
	}
	c.CheckTimeout, c.NegotiateTimeout = ResolveTimeouts(ct.d, nt.d, g.CheckTimeout, g.NegotiateTimeout)
	if base != nil && !ct.set && !nt.set {
		c.CheckTimeout, c.NegotiateTimeout = base.CheckTimeout, base.NegotiateTimeout
	}
	for i := range tc.Also {
		ap := fmt.Sprintf("%s.also[%d]", path, i)
		if len(tc.Also[i].Also) > 0 {
			r.errorf(ap+".also", "an also check has no also of its own (list them all under the first check)")
		}
		a := r.check(ap, &tc.Also[i], v, g, &c)
		// run with c, on its schedule (see Check.Also)
		a.Interval, a.FailureCount, a.RetryDelay, a.StartUp, a.Warmup = c.Interval, c.FailureCount, c.RetryDelay, c.StartUp, c.Warmup
		c.Also = append(c.Also, a)
	}
	return c
}

// ResolveTimeouts is ldirectord's ld_setup rule (0 = not given):
// checktimeout = virtual checktimeout, virtual negotiatetimeout, global
// checktimeout, global negotiatetimeout, 5s; negotiatetimeout = virtual
// negotiatetimeout, virtual checktimeout, global negotiatetimeout, global
// checktimeout, 30s.
func ResolveTimeouts(vCheck, vNeg, gCheck, gNeg time.Duration) (check, neg time.Duration) {
	first := func(ds ...time.Duration) time.Duration {
		for _, d := range ds {
			if d > 0 {
				return d
			}
		}
		return 0
	}
	return first(vCheck, vNeg, gCheck, gNeg, DefaultCheckTimeout),
		first(vNeg, vCheck, gNeg, gCheck, DefaultNegotiateTimeout)
}

// trackFiles reads [[track_file]] (before the virtuals: a real's
// file_check names one).
func (r *tomlReader) trackFiles(f *tomlFile, c *Config) {
	r.files = map[string]*TrackFile{}
	for i, tf := range f.TrackFile {
		path := fmt.Sprintf("track_file[%d]", i)
		d := &TrackFile{Line: r.lines.line(path), Name: tf.Name, File: tf.File, Weight: orInt(tf.Weight, 1), Overwrite: tf.Overwrite,
			Reverse: tf.Reverse}
		if tf.InitFile != nil {
			d.Init, d.InitValue = true, *tf.InitFile
		}
		if d.Name == "" || d.File == "" {
			r.errorf(path, "a track_file needs name and file")
		}
		if d.Weight < -254 || d.Weight > 254 {
			r.errorf(path+".weight", "weight must be -254..254")
		}
		if r.files[d.Name] != nil {
			r.errorf(path+".name", "duplicate track_file %q", d.Name)
		}
		r.files[d.Name] = d
		c.TrackFiles = append(c.TrackFiles, d)
	}
}

func (r *tomlReader) vrrp(f *tomlFile, c *Config) {
	names := map[string]bool{}
	for i, ts := range f.VRRPScript {
		path := fmt.Sprintf("vrrp_script[%d]", i)
		s := &TrackScript{Line: r.lines.line(path), Name: ts.Name, Script: ts.Script,
			Interval: orDur(ts.Interval, time.Second), Timeout: orDur(ts.Timeout, 0),
			Weight: ts.Weight, Reverse: ts.Reverse, Rise: orInt(ts.Rise, 1), Fall: orInt(ts.Fall, 1), InitFail: ts.InitFail}
		if s.Name == "" || s.Script == "" {
			r.errorf(path, "a vrrp_script needs name and script")
		}
		if s.Weight < -253 || s.Weight > 253 {
			r.errorf(path+".weight", "weight must be -253..253")
		}
		names[s.Name] = true
		c.Scripts = append(c.Scripts, s)
	}
	files := r.files
	inst := map[string]bool{}
	for i := range f.VRRPInstance {
		path := fmt.Sprintf("vrrp_instance[%d]", i)
		in := r.vrrpInstance(path, &f.VRRPInstance[i], names)
		for j, tf := range f.VRRPInstance[i].TrackFile {
			if files[tf.Name] == nil {
				r.errorf(fmt.Sprintf("%s.track_file[%d]", path, j), "unknown track_file %q", tf.Name)
			}
		}
		if inst[in.Name] {
			r.errorf(path+".name", "duplicate vrrp_instance %q", in.Name)
		}
		inst[in.Name] = true
		c.VRRP = append(c.VRRP, in)
	}
	for i, ts := range f.VRRPSyncGroup {
		path := fmt.Sprintf("vrrp_sync_group[%d]", i)
		g := &SyncGroup{Line: r.lines.line(path), Name: ts.Name, Members: ts.Group,
			NotifyMaster: ts.NotifyMaster, NotifyBackup: ts.NotifyBackup, NotifyFault: ts.NotifyFault, Notify: ts.Notify, TrackingWeight: ts.Weight,
			SMTPAlert: ts.SMTPAlert}
		if g.Name == "" || len(g.Members) == 0 {
			r.errorf(path, "a vrrp_sync_group needs name and group")
		}
		for _, m := range g.Members {
			if !inst[m] {
				r.errorf(path+".group", "unknown vrrp_instance %q", m)
			}
		}
		c.SyncGroups = append(c.SyncGroups, g)
	}
	if l := f.LVSSyncDaemon; l != nil {
		ls := &LVSSync{Line: r.lines.line("lvs_sync_daemon"), Interface: l.Interface, Instance: l.Instance, SyncID: -1,
			MaxLen: l.MaxLen, Port: l.Port, TTL: l.TTL}
		c.LVSSync = ls
		if l.Interface == "" || len(l.Interface) >= 16 {
			r.errorf("lvs_sync_daemon.interface", "lvs_sync_daemon needs an interface name (at most 15 characters)")
		}
		if l.Instance != "" && !inst[l.Instance] {
			r.errorf("lvs_sync_daemon.instance", "unknown vrrp_instance %q", l.Instance)
		}
		if l.ID != nil {
			ls.SyncID = *l.ID
			if *l.ID < 0 || *l.ID > 255 {
				r.errorf("lvs_sync_daemon.id", "id must be 0..255")
			}
		}
		for _, o := range []struct {
			k      string
			v, max int
		}{{"maxlen", l.MaxLen, 65507}, {"port", l.Port, 65535}, {"ttl", l.TTL, 255}} {
			if o.v < 0 || o.v > o.max {
				r.errorf("lvs_sync_daemon."+o.k, "%s must be 1..%d", o.k, o.max)
			}
		}
		if l.Group != "" {
			g, err := netip.ParseAddr(l.Group)
			if err != nil || !g.IsMulticast() {
				r.errorf("lvs_sync_daemon.group", "group %q: want a multicast address", l.Group)
			}
			ls.Group = g
		}
		ls.DefaultSyncID(c.VRRP)
	}
	vipOwners(c, func(line int, format string, args ...any) { r.errorAt(line, format, args...) },
		func(line int, format string, args ...any) { r.d.warnf(line, format, args...) })
	syncGroupWeights(c, func(line int, format string, args ...any) { r.d.warnf(line, format, args...) })
}

func (r *tomlReader) vrrpInstance(path string, t *tomlVRRP, scripts map[string]bool) *VRRPInstance {
	in := &VRRPInstance{Line: r.lines.line(path), Name: t.Name, Interface: t.Interface, VRID: t.VirtualRouterID,
		Priority: orInt(t.Priority, 100), State: strings.ToUpper(t.State), NoPreempt: t.NoPreempt,
		PreemptDelay: orDur(t.PreemptDelay, 0), AdvertInt: orDur(t.AdvertInt, time.Second), Version: t.Version,
		AuthType: strings.ToUpper(t.AuthType), AuthPass: t.AuthPass,
		NotifyMaster: t.NotifyMaster, NotifyBackup: t.NotifyBackup, NotifyFault: t.NotifyFault, NotifyStop: t.NotifyStop, Notify: t.Notify,
		GARPMasterDelay: 5 * time.Second, GARPMasterRepeat: 5, GARPMasterRefresh: orDur(t.GARPMasterRefresh, 0), GARPRefreshRepeat: 1}
	if t.GARPMasterDelay != nil {
		in.GARPMasterDelay = t.GARPMasterDelay.d
	}
	in.GARPMasterRepeat = orInt(t.GARPMasterRepeat, 5)
	in.GARPRefreshRepeat = orInt(t.GARPRefreshRepeat, 1)
	in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay, in.LowerPrioNoAdvert = orInt(t.GARPLowerRepeat, 5), 5*time.Second, t.LowerPrioNoAdv
	in.SMTPAlert = t.SMTPAlert
	if t.GARPLowerDelay != nil {
		in.GARPLowerPrioDelay = t.GARPLowerDelay.d
	}
	if in.State == "" {
		in.State = "BACKUP"
	}
	if in.Version == 0 {
		in.Version = 2
	}
	if in.Name == "" || in.Interface == "" {
		r.errorf(path, "a vrrp_instance needs name and interface")
	}
	if in.VRID < 1 || in.VRID > 255 {
		r.errorf(path+".virtual_router_id", "virtual_router_id must be 1..255")
	}
	if in.Priority < 1 || in.Priority > 255 {
		r.errorf(path+".priority", "priority must be 1..255")
	}
	if in.State != "MASTER" && in.State != "BACKUP" {
		r.errorf(path+".state", "state must be MASTER or BACKUP")
	}
	if in.Version != 2 && in.Version != 3 {
		r.errorf(path+".version", "version must be 2 or 3")
	}
	if in.AuthType != "" && in.AuthType != "PASS" && in.AuthType != "AH" {
		r.errorf(path+".auth_type", "auth_type must be PASS or AH")
	}
	if err := checkAdvert(in); err != "" {
		r.errorf(path+".advert_int", "%s", err)
	}
	if t.UnicastSrcIP != "" {
		a, err := netip.ParseAddr(t.UnicastSrcIP)
		if err != nil {
			r.errorf(path+".unicast_src_ip", "invalid address %q", t.UnicastSrcIP)
		}
		in.UnicastSrc = a
	}
	for _, s := range t.UnicastPeer {
		a, err := netip.ParseAddr(s)
		if err != nil {
			r.errorf(path+".unicast_peer", "invalid address %q", s)
			continue
		}
		in.UnicastPeers = append(in.UnicastPeers, a)
	}
	for k, list := range [][]string{t.VirtualIPAddress, t.Excluded} {
		key := [...]string{"virtual_ipaddress", "virtual_ipaddress_excluded"}[k]
		for _, s := range list {
			v, err := parseVIP(strings.Fields(s))
			if err != "" {
				r.errorf(path+"."+key, "%q: %s", s, err)
				continue
			}
			v.Line = r.lines.line(path + "." + key)
			addVIP(in, v, k == 1)
		}
	}
	in.Accept = t.Accept == nil || *t.Accept
	in.StartupDelay, in.UnicastFaultNoPeer, in.ChecksumAsV2 = orDur(t.StartupDelay, 0), t.UnicastFaultNo, t.ChecksumAsV2
	switch in.OldUnicastChecksum = t.OldUnicastCsum; in.OldUnicastChecksum {
	case "", "always", "never":
	default:
		r.errorf(path+".old_unicast_checksum", "old_unicast_checksum must be \"always\" or \"never\"")
	}
	if len(in.VirtualIPs) == 0 {
		r.errorf(path+".virtual_ipaddress", "a vrrp_instance needs at least one virtual_ipaddress")
	}
	for _, ts := range t.TrackScript {
		if !scripts[ts.Name] {
			r.errorf(path+".track_script", "unknown vrrp_script %q", ts.Name)
		}
		in.TrackScripts = append(in.TrackScripts, TrackRef(ts))
	}
	for _, ts := range t.TrackInterface {
		in.TrackInterfaces = append(in.TrackInterfaces, TrackRef(ts))
	}
	for _, ts := range t.TrackFile {
		in.TrackFiles = append(in.TrackFiles, TrackRef(ts))
	}
	return in
}

// checkAdvert enforces what each VRRP version can carry on the wire.
func checkAdvert(in *VRRPInstance) string {
	a := in.AdvertInt
	if in.Version == 2 && (a < time.Second || a > 255*time.Second || a%time.Second != 0) {
		return fmt.Sprintf("advert_int %s: VRRPv2 carries whole seconds 1..255", a)
	}
	if in.Version == 3 && (a < 10*time.Millisecond || a > 40950*time.Millisecond || a%(10*time.Millisecond) != 0) {
		return fmt.Sprintf("advert_int %s: VRRPv3 carries centiseconds 0.01..40.95 s", a)
	}
	return ""
}

// parseVIP reads keepalived's `ADDR[/LEN] [dev IF] [brd B] [label L]
// [scope S] [-nodad]`: typed here so that nothing later parses it again.
func parseVIP(f []string) (VIP, string) {
	var v VIP
	if len(f) == 0 {
		return v, "empty virtual_ipaddress"
	}
	var err error
	if strings.Contains(f[0], "/") {
		v.Prefix, err = netip.ParsePrefix(f[0])
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(f[0])
		if err == nil {
			v.Prefix = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return v, fmt.Sprintf("invalid virtual address %q", f[0])
	}
	v.Prefix = netip.PrefixFrom(v.Prefix.Addr().Unmap(), v.Prefix.Bits())
	brd := ""
	for i := 1; i < len(f); i++ {
		k := f[i]
		switch k {
		case "-nodad":
			if v.Prefix.Addr().Is4() {
				return v, "-nodad is for IPv6 addresses"
			}
			v.NoDAD = true
			continue
		case "home", "noprefixroute", "autojoin":
			return v, fmt.Sprintf("virtual_ipaddress option %q is not supported by lvsd", k)
		}
		if i+1 >= len(f) {
			return v, fmt.Sprintf("virtual_ipaddress option %q needs a value", k)
		}
		val := f[i+1]
		i++
		switch k {
		case "dev":
			v.Dev = val
		case "label":
			if v.Prefix.Addr().Is6() {
				return v, "label is for IPv4 addresses"
			}
			v.Label = val
		case "brd", "broadcast":
			if v.Prefix.Addr().Is6() {
				return v, "brd is for IPv4 addresses"
			}
			brd = val
		case "scope":
			switch val {
			case "global", "site", "link", "host", "nowhere":
			default:
				return v, fmt.Sprintf("scope %q: want global, site, link, host or nowhere", val)
			}
			if val != "global" {
				v.Scope = val
			}
		default:
			return v, fmt.Sprintf("unsupported virtual_ipaddress option %q", k)
		}
	}
	if brd != "" {
		b, err := netip.ParseAddr(brd)
		if brd == "+" || brd == "-" {
			b, err = broadcastOf(v.Prefix, brd)
		}
		if err != nil || !b.Is4() {
			return v, fmt.Sprintf("brd %q: want an IPv4 address, + or -", brd)
		}
		v.Broadcast = b
	}
	return v, ""
}

// broadcastOf is ip's "+" (all host bits set) or "-" (none) broadcast.
func broadcastOf(p netip.Prefix, spec string) (netip.Addr, error) {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	if p.Bits() == 0 {
		host = ^uint32(0)
	}
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if spec == "+" {
		n |= host
	} else {
		n &^= host
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), nil
}

func addVIP(in *VRRPInstance, v VIP, excluded bool) {
	if excluded {
		in.Excluded = append(in.Excluded, v)
		return
	}
	in.VIPs = append(in.VIPs, v)
	in.VirtualIPs = append(in.VirtualIPs, v.Prefix)
	if v.Dev != "" {
		if in.VirtualIPDevs == nil {
			in.VirtualIPDevs = map[string]string{}
		}
		in.VirtualIPDevs[v.Prefix.String()] = v.Dev
	}
}

// syncGroupWeights applies keepalived's rule for sync group members
// without sync_group_tracking_weight: a weighted track_script is ignored,
// a weighted track_interface or track_file weighs 0 (a fault): members
// whose priorities float apart would not move together.
func syncGroupWeights(c *Config, warnf func(line int, format string, args ...any)) {
	for _, g := range c.SyncGroups {
		if g.TrackingWeight {
			continue
		}
		for _, in := range c.VRRP {
			member := false
			for _, m := range g.Members {
				member = member || m == in.Name
			}
			if !member || in.Priority == 255 {
				continue
			}
			var keep []TrackRef
			for _, t := range in.TrackScripts {
				if t.Weight != 0 {
					warnf(in.Line, "vrrp_instance %s: track_script %s with weight %d ignored: a member of vrrp_sync_group %s (keepalived too; weight 0 or sync_group_tracking_weight)", in.Name, t.Name, t.Weight, g.Name)
					continue
				}
				keep = append(keep, t)
			}
			in.TrackScripts = keep
			for _, list := range [][]TrackRef{in.TrackInterfaces, in.TrackFiles} {
				for i := range list {
					if list[i].Weight != 0 {
						warnf(in.Line, "vrrp_instance %s: weight %d of %s set to 0 (down: FAULT): a member of vrrp_sync_group %s (keepalived too)", in.Name, list[i].Weight, list[i].Name, g.Name)
						list[i].Weight = 0
					}
				}
			}
		}
	}
}

// vipOwners reports an address configured in two instances: both would
// add it, and two masters would fight over it. Twice in one instance
// (keepalived's own sample keepalived.conf.vrrp does it) the first is
// kept, as keepalived adds the address once, with a warning.
func vipOwners(c *Config, errorf, warnf func(line int, format string, args ...any)) {
	type owner struct {
		in   *VRRPInstance
		line int
	}
	seen := map[netip.Addr]owner{}
	for _, in := range c.VRRP {
		dropped := false
		for _, list := range []*[]VIP{&in.VIPs, &in.Excluded} {
			kept := (*list)[:0]
			for _, v := range *list {
				a := v.Prefix.Addr()
				if o, ok := seen[a]; ok {
					if o.in == in {
						warnf(v.Line, "vrrp_instance %s: %s listed twice (first at line %d): the first kept, as keepalived adds it once", in.Name, a, o.line)
						dropped = true
						continue
					}
					errorf(v.Line, "vrrp_instance %s: %s is already a virtual address of vrrp_instance %s (line %d): an address belongs to one instance", in.Name, a, o.in.Name, o.line)
				} else {
					seen[a] = owner{in, v.Line}
				}
				kept = append(kept, v)
			}
			*list = kept
		}
		if dropped { // the addresses and devices follow the list kept
			vips := in.VIPs
			in.VIPs, in.VirtualIPs, in.VirtualIPDevs = nil, nil, nil
			for _, v := range vips {
				addVIP(in, v, false)
			}
		}
	}
}
