#!/bin/sh
# ocf:lvs:ping monitor vs ocf:pacemaker:ping monitor (hyperfine), 3 hosts one
# dead, attempts=1, timeout=1s, on a private one-node Pacemaker. Needs root.
cd "$(dirname "$0")/.." && exec nice go run ./bench/ping "$@"
