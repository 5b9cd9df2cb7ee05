// Package config reads ldirectord.cf, keepalived.conf and ocf-lvs TOML into
// one model. Nothing downstream reads a configuration file: the checker, the
// director rules, the IPVS reconciler and VRRP all take a *Config.
package config

import (
	"net/netip"
	"regexp"
	"time"
)

// Config is the whole resolved configuration, whatever file it came from.
type Config struct {
	Source     string // path of the file read
	Format     string // "ldirectord", "keepalived" or "toml"
	Global     Global
	Virtuals   []*Virtual
	VRRP       []*VRRPInstance
	SyncGroups []*SyncGroup
	Scripts    []*TrackScript // vrrp_script / [[track_script]] definitions
	TrackFiles []*TrackFile   // track_file (vrrp_track_file) definitions
	LVSSync    *LVSSync       // global lvs_sync_daemon; nil = none
	Warnings   []Diag         // accepted with a warning (lenient input)
}

// Diag is a message tied to a place in a file.
type Diag struct {
	File string
	Line int
	Msg  string
}

// VRRPRTOff is Global.VRRPRTPriority for `vrrp_rt_priority 0`: the VRRP
// threads at normal priority.
const VRRPRTOff = -1

// Global holds the director-wide behaviour (ldirectord's global directives).
type Global struct {
	CheckInterval    time.Duration // checkinterval (10s)
	CheckTimeout     time.Duration // resolved global checktimeout; 0 = unset
	NegotiateTimeout time.Duration // resolved global negotiatetimeout; 0 = unset
	CheckCount       int           // checkcount (1)
	FailureCount     int           // failurecount (1)
	Fallback         *Real         // fallback=
	Fallback6        *Real         // fallback6=
	FallbackCommand  string
	AutoReload       bool
	Callback         string
	LogFile          string // path or syslog facility ("local0")
	Execute          []string
	Fork             bool
	Supervised       bool
	Quiescent        bool // NO by default (ldirectord's code, not its man page)
	ReaddQuiescent   bool
	CleanStop        bool // yes by default
	MaintenanceDir   string
	EmailAlert       string
	EmailAlertFreq   time.Duration
	EmailAlertStatus []string
	EmailAlertFrom   string
	SMTP             string
	// SMTPHelo is keepalived's smtp_helo_name, the name the mails are sent
	// with ("" = the host name); SMTPConnectTimeout its smtp_connect_timeout
	// (0 = 10 s).
	SMTPHelo           string
	SMTPConnectTimeout time.Duration
	// RouterID is keepalived's router_id, the "[router_id]" of its mail
	// subjects ("" = the host name).
	RouterID string
	// Metrics is where lvsd run serves Prometheus metrics (host:port,
	// TOML's metrics; "" = off). --metrics overrides it.
	Metrics string
	// VRRPRTPriority is keepalived's vrrp_rt_priority: the VRRP threads
	// (each instance's, each socket reader's) run SCHED_RR at this
	// priority (1-99), so a saturated box still sends its adverts on
	// time; 0 (not set) is lvsd's default (vrrp.DefaultRTPriority),
	// VRRPRTOff (`vrrp_rt_priority 0`) normal scheduling.
	VRRPRTPriority int

	// NotifyFIFO and LVSNotifyFIFO are keepalived's notify_fifo and
	// lvs_notify_fifo: FIFOs that get a line per virtual's quorum and
	// real's check transition ("VS [ip]:tcp:80 UP", "RS [rs]:tcp:80
	// [ip]:tcp:80 DOWN"), in keepalived's format; "" = none.
	NotifyFIFO, LVSNotifyFIFO string
	// VRRPNotifyFIFO is vrrp_notify_fifo: VRRP's lines only
	// (`INSTANCE "VI_1" MASTER 100`, `GROUP "G" BACKUP 0`); notify_fifo
	// gets them too.
	VRRPNotifyFIFO string
}

// Virtual is one IPVS virtual service and how its reals are checked.
type Virtual struct {
	Line       int        // where it was declared
	Protocol   Protocol   // tcp, udp, sctp or fwm
	Addr       netip.Addr // zero for fwm
	Port       uint16
	FWMark     uint32
	Family     int      // 4 or 6 (virtual6= / fwm family)
	Scheduler  string   // wrr default
	SchedFlags []string // sh-fallback, sh-port, ... as written
	// SchedFlagBits are SchedFlags as the kernel takes them (typed when read).
	SchedFlagBits uint32
	Persistent    time.Duration // 0 = not persistent
	Netmask       string        // persistence netmask as written (v4 dotted or v6 prefix len)
	// MaskBits is the persistence netmask's prefix length (32 or 128 when
	// not given), typed when read.
	MaskBits  int
	OnePacket bool // ops
	Reals     []*Real
	Fallback  *Real // effective: the virtual's own, else the global one of its family
	// FallbackFromGlobal: Fallback was inherited from global fallback/fallback6.
	FallbackFromGlobal bool
	FallbackCommand    string // effective (virtual overrides global)
	Quiescent          bool   // effective (virtual overrides global)
	Check              Check
	MonitorFile        string
	CleanStop          bool
	ServiceName        string
	Comment            string
	EmailAlert         string
	EmailAlertFreq     time.Duration
	EmailAlertStatus   []string
	SMTP               string
	// MailStyle "keepalived": the mails are keepalived's (subjects "[router_id]
	// Realserver ... - DOWN", its bodies, a mail per quorum change when
	// QuorumAlert) instead of ldirectord's.
	MailStyle   string
	QuorumAlert bool // keepalived's virtual_server smtp_alert (resolved)
	// keepalived extras (imported configs keep their meaning)
	Quorum           int
	Hysteresis       int
	QuorumUp         string
	QuorumDown       string
	InhibitOnFailure bool  // keepalived's inhibit_on_failure; the importer also sets Quiescent
	SorryServer      *Real // always nil: keepalived's sorry_server is imported as Fallback
}

// Real is one real server of a virtual service.
type Real struct {
	Line        int
	Addr        netip.Addr
	Port        uint16  // the virtual's port when not given (and always with gate/ipip); 0 for a fwmark
	Forward     Forward // gate, masq or ipip
	Weight      int
	Upper       int    // u:N upper connection threshold, 0 = none
	Lower       int    // l:N lower connection threshold, 0 = none
	Request     string // per-real override, valid when HasOverride
	Receive     string // per-real override, valid when HasOverride
	HasOverride bool   // request/receive given on the real= line
	NoAlert     bool   // keepalived's real_server smtp_alert off (resolved): no mail for this real
	Check       *Check // per-real check (keepalived real_server blocks); nil = the virtual's
	// ReceiveRE is the override's Receive compiled when the file was read
	// (nil when Receive is ""): lib/check matches with it, never compiling.
	ReceiveRE *regexp.Regexp
	// Quiescent overrides the virtual's Quiescent for this real (keepalived's
	// per-real_server inhibit_on_failure); nil = the virtual's.
	Quiescent *bool
	// NotifyUp / NotifyDown (keepalived real_server notify_up/notify_down):
	// command lines run by /bin/sh -c when the real's check brings it up,
	// or takes down a real that was up.
	NotifyUp, NotifyDown string
	// Files are keepalived FILE_CHECKs: the real's state and weight follow
	// the integers in these files (see FileCheck), together with its
	// checks.
	Files []FileCheck
}

// FileCheck is one keepalived FILE_CHECK of a real: the value v in the
// track_file Track's file, times Weight (negated when Reverse), is added to
// the real's weight; with Weight 0 the real is down while v is not 0 (while
// v is 0 when Reverse). See TrackFileStatus.
type FileCheck struct {
	Line    int
	Track   *TrackFile
	Weight  int
	Reverse bool
}

// RunAs is a user and group a command runs as.
type RunAs struct {
	User, Group string // as written (Group "" = the user's own)
	UID, GID    uint32
}

// Check says how the reals of a virtual are health-checked.
type Check struct {
	Type           string // negotiate, connect, ping, external, on, off, combined (N)
	NegotiateEvery int    // for checktype=N: negotiate every Nth cycle
	// Proto is the transport the probe uses when it is not the virtual's
	// protocol: keepalived's TCP_CHECK connects over tcp and its DNS_CHECK
	// asks over udp whatever the virtual_server's protocol ("": the
	// virtual's, as ldirectord: a connect check of a udp virtual pings).
	Proto            Protocol
	Service          string // http, https, dns, ... (negotiate)
	Port             uint16 // checkport; 0 = the real's port or the service default
	Request          string // as written (default "/"): http path or URL, dns name, SQL query, simpletcp bytes ...
	Receive          string // regular expression; "" = any answer (dns: down, as ldirectord)
	HTTPMethod       string // GET or HEAD
	VirtualHost      string
	Login, Passwd    string
	Database, Secret string
	Command          string // checkcommand for external
	// MiscPath: Command is a keepalived MISC_CHECK misc_path, a command line
	// run by /bin/sh -c as is, without ldirectord's four arguments.
	MiscPath bool
	// Dynamic is keepalived's misc_dynamic: the command's exit status sets
	// the real's weight (0: the configured weight; 1: down; 2..255: up at
	// status-2; any other status, a signal or the timeout: down).
	Dynamic bool
	// RunAs is the MISC_CHECK user (keepalived's `user NAME [GROUP]`):
	// the command runs with these ids; nil = as lvsd runs.
	RunAs            *RunAs
	Interval         time.Duration // effective checkinterval
	CheckTimeout     time.Duration // effective, resolved as ldirectord does
	NegotiateTimeout time.Duration // effective, resolved as ldirectord does
	Count            int           // checkcount (ping attempts)
	FailureCount     int           // down after this many consecutive failures
	VerifyTLS        bool          // https: verify the certificate (off like ldirectord)
	// keepalived HTTP_GET/SSL_GET, DNS_CHECK
	StatusCodes []StatusRange
	Digest      string
	// DNSType/DNSName (keepalived DNS_CHECK, service dns): query this name and
	// type; any answer is up. When empty, ldirectord's dns check applies
	// (query Request, up when an answer matches Receive).
	DNSType    string
	DNSName    string
	RetryDelay time.Duration // delay_before_retry
	// ReceiveRE is Receive compiled when the file was read (nil when
	// Receive is ""): a pattern that does not compile is a FILE:LINE
	// error, and lib/check matches with this one, never compiling again.
	ReceiveRE *regexp.Regexp
	// keepalived UDP_CHECK (Type "udp"): Payload is sent (raw bytes);
	// with RequireReply a reply is needed, starting with Reply, of
	// MinReply..MaxReply bytes (0: 255); without, only an ICMP error is down.
	Payload, Reply     string
	RequireReply       bool
	MinReply, MaxReply int
	// Also are more checks of the same real, all of which must pass
	// (keepalived: several checkers on one real_server, several url
	// blocks in one HTTP_GET): run together with this one, on its
	// schedule (Interval, FailureCount, RetryDelay); theirs are not used.
	Also []Check
	// StartUp: the real counts as up before its first check (keepalived
	// without alpha, its default); false: down until a check passes
	// (ldirectord, keepalived's alpha).
	StartUp bool
	// Warmup bounds the random delay of the first check (keepalived's
	// warmup): 0 = a short spread (lib/check.StartSpread), as ldirectord
	// checks every real at start, also for keepalived.conf (keepalived
	// spreads over one delay_loop: docs/daemon.md); NoWarmup = at once.
	Warmup time.Duration
}

// NoWarmup is Check.Warmup for "first check at once" (keepalived warmup 0).
const NoWarmup time.Duration = -1

// StatusRange is an inclusive range of accepted HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// VRRPInstance is one VRRP router (keepalived's vrrp_instance).
type VRRPInstance struct {
	Line                                                        int
	Name                                                        string
	Interface                                                   string
	VRID                                                        int
	Priority                                                    int
	State                                                       string // MASTER or BACKUP (initial)
	NoPreempt                                                   bool
	PreemptDelay                                                time.Duration
	AdvertInt                                                   time.Duration
	Version                                                     int    // 2 or 3
	AuthType                                                    string // "", "PASS", "AH"
	AuthPass                                                    string
	UnicastSrc                                                  netip.Addr
	UnicastPeers                                                []netip.Addr
	VirtualIPs                                                  []netip.Prefix
	VirtualIPDevs                                               map[string]string // address -> device when given
	TrackScripts                                                []TrackRef
	TrackInterfaces                                             []TrackRef
	TrackFiles                                                  []TrackRef
	NotifyMaster, NotifyBackup, NotifyFault, NotifyStop, Notify string
	GARPMasterDelay                                             time.Duration
	GARPMasterRepeat                                            int
	GARPMasterRefresh                                           time.Duration
	GARPRefreshRepeat                                           int
	// A master hearing a lower priority (a node that missed its adverts):
	// LowerPrioNoAdvert (lower_prio_no_advert) does not answer with an
	// advert at once; GARPLowerPrioRepeat (garp_lower_prio_repeat)
	// gratuitous ARPs are sent, again GARPLowerPrioDelay later
	// (garp_lower_prio_delay). keepalived's defaults: the global
	// vrrp_garp_master_repeat and _delay (5, 5 s).
	LowerPrioNoAdvert   bool
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration
	// SMTPAlert (smtp_alert) mails each MASTER, BACKUP, FAULT and STOP
	// transition to notification_email, as keepalived's
	// vrrp_smtp_notifier; unset, global_defs' smtp_alert_vrrp, else its
	// smtp_alert decide (off by default).
	SMTPAlert bool

	// VIPs is virtual_ipaddress with every option, in order (VirtualIPs
	// and VirtualIPDevs are its addresses and devices); Excluded is
	// virtual_ipaddress_excluded: added and removed with the others but
	// not carried in the adverts.
	VIPs, Excluded []VIP
	// Accept: keepalived's accept (default) or no_accept; lvsd never
	// filters traffic to the VIPs, so no_accept is kept only to be shown.
	Accept             bool
	StartupDelay       time.Duration // vrrp_startup_delay (global): wait before the first election
	UnicastFaultNoPeer bool          // unicast_fault_no_peer: FAULT, not multicast, with no unicast_peer
	ChecksumAsV2       bool          // v3_checksum_as_v2: VRRPv3 IPv4 checksum without the pseudo-header
	// OldUnicastChecksum is old_unicast_checksum: "" (adopt the peer's),
	// "always" (keepalived <= 1.3.6's v3 unicast form) or "never".
	OldUnicastChecksum string
}

// VIP is one address of an instance, with keepalived's options.
type VIP struct {
	Line      int
	Prefix    netip.Prefix
	Dev       string     // "" = the instance's interface
	Label     string     // IPv4 label ("eth0:1"); "" = none
	Broadcast netip.Addr // IPv4; invalid = none
	Scope     string     // "" (global), "site", "link", "host" or "nowhere"
	NoDAD     bool       // IPv6: -nodad
}

// TrackFile is a track_file definition: the integer in File, times the
// weight, is added to the priority of the instances tracking it; with
// weight 0 any non-zero value puts them in FAULT.
type TrackFile struct {
	Line      int
	Name      string
	File      string
	Weight    int
	Init      bool // init_file: write InitValue at start if the file is missing
	InitValue int
	Overwrite bool // init_file ... overwrite: write it even if the file exists
	Reverse   bool // weight N reverse: the default for those tracking it
}

// LVSSync is keepalived's lvs_sync_daemon IFACE [INSTANCE] [id N] [maxlen
// N] [port N] [ttl N] [group IP]: the IPVS connection-sync daemon, master
// while Instance is MASTER, backup else; with no Instance both all the
// time. Zero MaxLen, Port, TTL, Group: the kernel's defaults.
type LVSSync struct {
	Line      int
	Interface string
	Instance  string
	SyncID    int // keepalived's default: the instance's VRID (0 without one)
	MaxLen    int
	Port      int
	TTL       int
	Group     netip.Addr
}

// DefaultSyncID sets an unset (negative) sync id as keepalived does: the
// VRID of the instance followed, or 0.
func (l *LVSSync) DefaultSyncID(vrrp []*VRRPInstance) {
	if l == nil || l.SyncID >= 0 {
		return
	}
	l.SyncID = 0
	for _, in := range vrrp {
		if in.Name == l.Instance {
			l.SyncID = in.VRID
		}
	}
}

// TrackRef refers to a tracked script, interface or file with a weight.
// Reverse (keepalived's `weight N reverse`) turns the weight's direction:
// see TrackWeight and TrackFileStatus.
type TrackRef struct {
	Name    string
	Weight  int
	Reverse bool
}

// TrackScript is a vrrp_script definition.
type TrackScript struct {
	Line     int
	Name     string
	Script   string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	Reverse  bool // weight N reverse: the default of the track_scripts naming it
	Rise     int
	Fall     int
	InitFail bool // init_fail: starts failed (else it starts passing, as keepalived)
}

// SyncGroup is a vrrp_sync_group: its members change state together.
type SyncGroup struct {
	Line                                            int
	Name                                            string
	Members                                         []string
	NotifyMaster, NotifyBackup, NotifyFault, Notify string
	// TrackingWeight is sync_group_tracking_weight: members keep their
	// tracking weights (keepalived: "probably won't work"). Without it a
	// member's weighted track_script is dropped and its weighted
	// track_interface / track_file weigh 0 (a fault), as keepalived does.
	TrackingWeight bool
	// SMTPAlert (smtp_alert) mails the group's MASTER, BACKUP, FAULT and
	// STOP to notification_email, as keepalived's vrrp_sync_smtp_notifier
	// ("VRRP Group G - Entering MASTER state"); unset, global_defs'
	// smtp_alert_vrrp, else its smtp_alert decide (off by default).
	SMTPAlert bool
}

// RealID names one real server of one virtual service. It is comparable
// and built from what the configuration says (not from pointers), so the
// health of a real survives a reload that keeps it: lib/check keys its
// state by it and lib/director reads health by it.
type RealID struct {
	Virtual string         // Virtual.Key(): "tcp:192.0.2.1:80", "fwm:5"
	Real    netip.AddrPort // the real's address and port as configured
}

// ID names real r of virtual v.
func (v *Virtual) ID(r *Real) RealID {
	return RealID{Virtual: v.Key(), Real: netip.AddrPortFrom(r.Addr, r.Port)}
}

func (id RealID) String() string { return id.Virtual + " " + id.Real.String() }
