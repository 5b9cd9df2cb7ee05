// Package vrrp speaks VRRP as keepalived does: versions 2 (RFC 3768) and
// 3 (RFC 9568), IPv4 and IPv6, so that lvsd and keepalived can run as
// peers and a site can replace one keepalived node at a time.
//
// This part is pure (no sockets, no clock, no root):
//
//   - the codec. Encode(Advert, src, dst, checksumAsV2) returns the VRRP
//     message (the IP payload; the kernel writes the IP header, but the v3
//     checksum covers the IP pseudo-header, hence src and dst).
//     Decode(Packet) reads one back from what the socket received (the
//     payload, source, destination, TTL / hop limit, interface). v2 PASS
//     authentication is spoken; AH is refused (ErrAH, DropAuthType).
//   - the receive checks. Wire holds what one instance sends and accepts
//     (version, VRID, interval, PASS, v3_checksum_as_v2, unicast peers,
//     old_unicast_checksum). Wire.Check(rx, advert) returns a Reason:
//     Accepted, AdoptInterval (v3: the master's interval differs, adopt
//     it), AdoptOldChecksum (a keepalived 1.3.6 unicast peer: switch the
//     Wire to its checksum), or why the message is dropped (DropTTL,
//     DropChecksum, DropPassword...). Reason.String is the label to count
//     by. Receive(rx, find) chains Decode, the VRID look-up and Check.
//     Drops counts by Reason and rate-limits the logging.
//   - the state machine. Step(config, state, event, now) returns the next
//     State and the Actions to run in order (send an advert, add or
//     remove the VIPs, announce them, notify, arm or cancel a Timer); the
//     runner owns the clock and feeds EvTimer when State.Next comes.
//
// The socket layer and the per-instance runner that drive these live in
// the same package, in their own files.
package vrrp
