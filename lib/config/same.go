package config

import (
	"regexp"
	"slices"
)

// Same reports whether v and o configure the same virtual service: every
// field but the Line numbers (a real added above moves them, and a
// virtual whose lines alone moved need not be decided again). A reload
// keeps what it decided for the virtuals it finds the same. It compares
// field by field, not with reflect.DeepEqual: 1,000 virtuals of 10
// reals are compared on every reload. TestSameCoversEveryField makes a
// field added to the model without its comparison here fail.
func (v *Virtual) Same(o *Virtual) bool {
	if v == o {
		return true
	}
	if v == nil || o == nil {
		return false
	}
	if v.Protocol != o.Protocol || v.Addr != o.Addr || v.Port != o.Port || v.FWMark != o.FWMark ||
		v.Family != o.Family || v.Scheduler != o.Scheduler || !slices.Equal(v.SchedFlags, o.SchedFlags) ||
		v.SchedFlagBits != o.SchedFlagBits || v.Persistent != o.Persistent || v.Netmask != o.Netmask ||
		v.MaskBits != o.MaskBits || v.OnePacket != o.OnePacket || len(v.Reals) != len(o.Reals) ||
		!v.Fallback.Same(o.Fallback) || v.FallbackFromGlobal != o.FallbackFromGlobal ||
		v.FallbackCommand != o.FallbackCommand || v.Quiescent != o.Quiescent || !v.Check.Same(&o.Check) ||
		v.MonitorFile != o.MonitorFile || v.CleanStop != o.CleanStop || v.ServiceName != o.ServiceName ||
		v.Comment != o.Comment || v.EmailAlert != o.EmailAlert || v.EmailAlertFreq != o.EmailAlertFreq ||
		!slices.Equal(v.EmailAlertStatus, o.EmailAlertStatus) || v.SMTP != o.SMTP || v.Quorum != o.Quorum ||
		v.Hysteresis != o.Hysteresis || v.QuorumUp != o.QuorumUp || v.QuorumDown != o.QuorumDown ||
		v.InhibitOnFailure != o.InhibitOnFailure || !v.SorryServer.Same(o.SorryServer) ||
		v.MailStyle != o.MailStyle || v.QuorumAlert != o.QuorumAlert {
		return false
	}
	for i, r := range v.Reals {
		if !r.Same(o.Reals[i]) {
			return false
		}
	}
	return true
}

// Same reports whether r and o are the same real (Line aside; nil is the
// same as nil only).
func (r *Real) Same(o *Real) bool {
	if r == o {
		return true
	}
	if r == nil || o == nil {
		return false
	}
	return r.Addr == o.Addr && r.Port == o.Port && r.Forward == o.Forward && r.Weight == o.Weight &&
		r.Upper == o.Upper && r.Lower == o.Lower && r.Request == o.Request && r.Receive == o.Receive &&
		r.HasOverride == o.HasOverride && r.Check.Same(o.Check) && sameRE(r.ReceiveRE, o.ReceiveRE) &&
		(r.Quiescent == o.Quiescent || (r.Quiescent != nil && o.Quiescent != nil && *r.Quiescent == *o.Quiescent)) &&
		r.NotifyUp == o.NotifyUp && r.NotifyDown == o.NotifyDown && r.NoAlert == o.NoAlert &&
		slices.EqualFunc(r.Files, o.Files, func(a, b FileCheck) bool { return a.Same(&b) })
}

// Same reports whether f and o follow the same file the same way (Line
// aside; the track_file compared by its settings, not its pointer).
func (f *FileCheck) Same(o *FileCheck) bool {
	return f.Weight == o.Weight && f.Reverse == o.Reverse && f.Track.Same(o.Track)
}

// Same reports whether t and o define the same track_file (Line aside).
func (t *TrackFile) Same(o *TrackFile) bool {
	if t == o {
		return true
	}
	if t == nil || o == nil {
		return false
	}
	return t.Name == o.Name && t.File == o.File && t.Weight == o.Weight && t.Init == o.Init &&
		t.InitValue == o.InitValue && t.Overwrite == o.Overwrite && t.Reverse == o.Reverse
}

// Same reports whether c and o check the same way (nil is the same as
// nil only).
func (c *Check) Same(o *Check) bool {
	if c == o {
		return true
	}
	if c == nil || o == nil {
		return false
	}
	if c.Type != o.Type || c.NegotiateEvery != o.NegotiateEvery || c.Proto != o.Proto || c.Service != o.Service || c.Port != o.Port ||
		c.Request != o.Request || c.Receive != o.Receive || c.HTTPMethod != o.HTTPMethod ||
		c.VirtualHost != o.VirtualHost || c.Login != o.Login || c.Passwd != o.Passwd ||
		c.Database != o.Database || c.Secret != o.Secret || c.Command != o.Command || c.MiscPath != o.MiscPath ||
		c.Interval != o.Interval || c.CheckTimeout != o.CheckTimeout || c.NegotiateTimeout != o.NegotiateTimeout ||
		c.Count != o.Count || c.FailureCount != o.FailureCount || c.VerifyTLS != o.VerifyTLS ||
		!slices.Equal(c.StatusCodes, o.StatusCodes) || c.Digest != o.Digest || c.DNSType != o.DNSType ||
		c.DNSName != o.DNSName || c.RetryDelay != o.RetryDelay || !sameRE(c.ReceiveRE, o.ReceiveRE) ||
		c.Payload != o.Payload || c.Reply != o.Reply || c.RequireReply != o.RequireReply ||
		c.MinReply != o.MinReply || c.MaxReply != o.MaxReply || len(c.Also) != len(o.Also) ||
		c.StartUp != o.StartUp || c.Warmup != o.Warmup || c.Dynamic != o.Dynamic ||
		(c.RunAs == nil) != (o.RunAs == nil) || (c.RunAs != nil && *c.RunAs != *o.RunAs) {
		return false
	}
	for i := range c.Also {
		if !c.Also[i].Same(&o.Also[i]) {
			return false
		}
	}
	return true
}

func sameRE(a, b *regexp.Regexp) bool {
	return a == b || (a != nil && b != nil && a.String() == b.String())
}
