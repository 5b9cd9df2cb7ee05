#!/bin/sh
# gen.sh SERVICES REALS [WEIGHT_OF_LAST_REAL_OF_FIRST_SERVICE]
# Prints an ldirectord.cf: SERVICES tcp virtuals (10.200.x.y:80, wrr) with
# REALS gate reals each (10.1.x.y), checktype=negotiate with service=none so that ldirectord adds
# every real without probing anything (its checktype=on runs the negotiate
# check anyway: num_connects is undefined, so "undef >= undef" holds). The optional third argument changes
# one real's weight: the one-real change of the benchmark.
awk -v S="$1" -v R="$2" -v W="${3:-1}" 'BEGIN {
	print "checktimeout=5\ncheckinterval=1\nquiescent=no\nautoreload=no\nlogfile=\"/tmp/ldirectord.log\"\n"
	for (s = 0; s < S; s++) {
		printf "virtual=10.200.%d.%d:80\n\tscheduler=wrr\n\tchecktype=negotiate\n\tservice=none\n", int(s / 250), s % 250 + 1
		for (r = 0; r < R; r++) {
			w = (s == 0 && r == R - 1) ? W : 1
			printf "\treal=10.1.%d.%d:80 gate %d\n", int(r / 250), r % 250 + 1, w
		}
		print ""
	}
}'
