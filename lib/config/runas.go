package config

import (
	"fmt"
	"os/user"
	"strconv"
)

// LookupRunAs resolves a command's user and group (keepalived's `user NAME
// [GROUP]`: names; the user's own group when no group is given) when the
// file is read, as keepalived does: an unknown name is an error then, not
// a check failing later.
func LookupRunAs(name, group string) (*RunAs, error) {
	if name == "" {
		return nil, fmt.Errorf("a group without a user")
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: no such user on this system", name)
	}
	ra := &RunAs{User: name, Group: group}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q: ids %s:%s are not numbers", name, u.Uid, u.Gid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("group %q: no such group on this system", group)
		}
		if gid, err = strconv.ParseUint(g.Gid, 10, 32); err != nil {
			return nil, fmt.Errorf("group %q: id %s is not a number", group, g.Gid)
		}
	}
	ra.UID, ra.GID = uint32(uid), uint32(gid)
	return ra, nil
}
