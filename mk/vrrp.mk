# lib/vrrp (codec, receive checks, state machine: vrrp-core; sockets, runner: vrrp-run)
FUZZ += ./lib/vrrp:FuzzDecode ./lib/vrrp:FuzzStep
