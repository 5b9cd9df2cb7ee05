#!/bin/sh
# genk.sh SERVICES REALS [WEIGHT_OF_LAST_REAL_OF_FIRST_SERVICE]
# The same table as gen.sh, as a keepalived.conf: real_server blocks with no
# health checker, so keepalived takes every real as alive at start.
awk -v S="$1" -v R="$2" -v W="${3:-1}" 'BEGIN {
	print "global_defs {\n    router_id bench\n}\n"
	for (s = 0; s < S; s++) {
		printf "virtual_server 10.200.%d.%d 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", int(s / 250), s % 250 + 1
		for (r = 0; r < R; r++) {
			w = (s == 0 && r == R - 1) ? W : 1
			printf "    real_server 10.1.%d.%d 80 {\n        weight %d\n    }\n", int(r / 250), r % 250 + 1, w
		}
		print "}\n"
	}
}'
