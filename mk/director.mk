# lib/director: lvsd ctl overrides, parsed from the socket and the overrides file
FUZZ += ./lib/director:FuzzParseOverride
