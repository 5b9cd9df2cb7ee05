package director

import (
	"fmt"
	"strings"
	"time"
)

// Status is what `lvsd run` answers on its control socket to "status"
// (cmd/lvsd/socket.go statusJSON); only the fields the agent reads.
type Status struct {
	Config   string    `json:"config"`
	Digest   string    `json:"digest"`
	Loaded   time.Time `json:"loaded"`
	Up       int       `json:"reals_up"`
	Down     int       `json:"reals_down"`
	Unknown  int       `json:"reals_not_checked_yet"`
	Counts   Counts    `json:"counts"`
	Virtuals []Virtual `json:"virtuals"`
}

// Counts are the daemon's counters since it started.
type Counts struct {
	Writes       int `json:"netlink_writes"`
	WriteErrors  int `json:"netlink_write_errors"`
	Repairs      int `json:"drift_repairs"`
	Reloads      int `json:"reloads"`
	ReloadErrors int `json:"reload_errors"`
}

// Virtual is one configured virtual service.
type Virtual struct {
	Virtual  string `json:"virtual"`
	Line     int    `json:"line"`
	Service  string `json:"ipvs_service"`
	Up       int    `json:"reals_up"`
	UpWeight int    `json:"up_weight"`
	Fallback bool   `json:"fallback_in_use"`
	Quorum   bool   `json:"quorum"`
	Reals    []Real `json:"reals"`
}

// Real is one destination: desired (role, weight) and as the kernel holds
// it (in_kernel, kernel_weight, as last read or written by lvsd). A
// configured real left out of the table (down with quiescent=no, or not
// checked yet) is listed too, with no forward method: it is not part of
// the desired table.
type Real struct {
	Real     string `json:"real"`
	Role     string `json:"role"`
	Health   string `json:"health"`
	Why      string `json:"why"`
	Forward  string `json:"forward"`
	Weight   int    `json:"weight"`
	InKernel bool   `json:"in_kernel"`
	KWeight  int    `json:"kernel_weight"`
}

// Degraded is OCF_DEGRADED: the service runs, but not fully.
const Degraded = 190

// desired: the entry is part of the table lvsd wants in the kernel.
func (r Real) desired() bool {
	switch r.Role {
	case "real", "fallback", "draining":
		return r.Forward != ""
	}
	return false
}

// Verdict is a monitor's outcome beyond "lvsd answers": the OCF code, the
// reason (for ocf-exit-reason) and warnings to log that do not fail it.
type Verdict struct {
	Code     int
	Reason   string
	Warnings []string
}

// Judge decides a monitor at OCF_CHECK_LEVEL level over a status answer.
// fileDigest is the SHA-256 (hex) of the configuration file as it is now
// ("" when unreadable). Levels are cumulative: 20 checks what 10 does.
//
//   - 0: lvsd answered; nothing more.
//   - 10: every entry of the desired table is in the kernel with its
//     weight (else 1, naming them); a file changed since lvsd loaded it is
//     a warning (still 0: the running configuration is the one in force
//     until a reload).
//   - 20: a virtual with no real up and no fallback in use is 190
//     (degraded), naming it; a virtual whose reals are all still unchecked
//     is not judged yet.
func Judge(st Status, level int, fileDigest string) Verdict {
	var v Verdict
	if level < 10 {
		return v
	}
	if fileDigest == "" {
		v.Warnings = append(v.Warnings, fmt.Sprintf("%s: cannot read it to compare with the running configuration", st.Config))
	} else if st.Digest != "" && fileDigest != st.Digest {
		w := fmt.Sprintf("%s changed since lvsd loaded it (%s) and was not reloaded: the running configuration is the previous one (reload the resource, or fix the file if a reload was refused)",
			st.Config, st.Loaded.Format(time.RFC3339))
		if st.Counts.ReloadErrors > 0 {
			w += fmt.Sprintf("; %d reload(s) refused so far", st.Counts.ReloadErrors)
		}
		v.Warnings = append(v.Warnings, w)
	}
	var diffs []string
	for _, vs := range st.Virtuals {
		for _, r := range vs.Reals {
			if !r.desired() {
				continue
			}
			switch {
			case !r.InKernel:
				diffs = append(diffs, fmt.Sprintf("%s %s %s: not in the kernel", vs.Virtual, r.Role, r.Real))
			case r.KWeight != r.Weight:
				diffs = append(diffs, fmt.Sprintf("%s %s %s: kernel weight %d, want %d", vs.Virtual, r.Role, r.Real, r.KWeight, r.Weight))
			}
		}
	}
	if len(diffs) > 0 {
		v.Code = 1
		v.Reason = "the kernel IPVS table differs from the desired one: " + list(diffs, 3)
		if st.Counts.WriteErrors > 0 {
			v.Reason += fmt.Sprintf(" (%d netlink write errors so far)", st.Counts.WriteErrors)
		}
		return v
	}
	if level < 20 {
		return v
	}
	var down []string
	for _, vs := range st.Virtuals {
		if vs.Up > 0 || vs.Fallback || unchecked(vs) {
			continue
		}
		down = append(down, fmt.Sprintf("%s (line %d)", vs.Virtual, vs.Line))
	}
	if len(down) > 0 {
		v.Code = Degraded
		v.Reason = "no real server up and no fallback for " + list(down, 3)
	}
	return v
}

// unchecked: the virtual has reals and none has had its first check.
func unchecked(vs Virtual) bool {
	n := 0
	for _, r := range vs.Reals {
		if r.Role != "real" {
			continue
		}
		n++
		if r.Health != "unknown" {
			return false
		}
	}
	return n > 0
}

// list joins items, the first max of them and a count of the others.
func list(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}

// errorsReason makes configuration error lines (FILE:LINE: msg each) one
// exit-reason line: the first error whole, then how many more.
func errorsReason(lines []string) string {
	var errs []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l != "" && !strings.Contains(l, ": warning: ") && l != "refused" {
			errs = append(errs, l)
		}
	}
	switch len(errs) {
	case 0:
		return ""
	case 1:
		return errs[0]
	}
	return fmt.Sprintf("%s (%d more in the log)", errs[0], len(errs)-1)
}

// ReloadAnswer reads lvsd's answer to "reload": "ok", or the file's error
// lines then "refused". The error is the reason a refused reload fails.
func ReloadAnswer(answer string) error {
	lines := strings.Split(strings.TrimSpace(answer), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	switch last {
	case "ok":
		return nil
	case "refused":
		r := errorsReason(lines[:len(lines)-1])
		if r == "" {
			r = "refused without a reason"
		}
		return fmt.Errorf("reload refused, the running configuration is kept: %s", r)
	}
	return fmt.Errorf("unexpected answer from lvsd to reload: %q", strings.TrimSpace(answer))
}

// StartFailure maps how `lvsd run` ended before it was ready (its exit
// code, -1 when it still runs, and what it logged) to the OCF outcome:
// exit 2, an invalid file, is OCF_ERR_CONFIGURED with its FILE:LINE
// errors; a kernel without IPVS is OCF_ERR_INSTALLED (this node cannot
// run it; another may); anything else is a generic failure with the last
// line logged.
func StartFailure(code int, output []string) (int, string) {
	for _, l := range output {
		if strings.Contains(l, "the kernel has no IPVS") {
			return 5, strings.TrimSpace(stripStamp(l))
		}
	}
	last := ""
	for i := len(output) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(stripStamp(output[i])); s != "" {
			last = s
			break
		}
	}
	switch code {
	case 2:
		var errs []string
		for _, l := range output {
			errs = append(errs, stripStamp(l))
		}
		if r := errorsReason(errs); r != "" {
			return 6, r
		}
		return 6, "lvsd refused the configuration (exit 2)"
	case -1:
		return 1, "lvsd did not finish its first pass in time" + suffix(last)
	}
	return 1, fmt.Sprintf("lvsd exited with status %d before it was ready", code) + suffix(last)
}

func suffix(last string) string {
	if last == "" {
		return ""
	}
	return ": " + last
}

// stripStamp drops lvsd's "15:04:05.000 " line prefix.
func stripStamp(l string) string {
	if len(l) > 13 && l[2] == ':' && l[5] == ':' && l[8] == '.' && l[12] == ' ' {
		return l[13:]
	}
	return l
}
