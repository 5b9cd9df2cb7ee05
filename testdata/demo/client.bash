#!/bin/bash
# make demo's HTTP client (scripts/demo-lvs.sh): client.bash N HOST...
# makes N HTTP/1.0 GETs of / to each HOST:80, each on a new connection,
# all from this one process (bash's /dev/tcp: no fork per request; process
# starts are slow in the emulated VM). One line per request: "HOST realN"
# for a 200 whose body says "served by realN", else "HOST FAIL why".
n=$1; shift
for host; do
	for ((i = 0; i < n; i++)); do
		if ! { exec 3<>"/dev/tcp/$host/80"; } 2>/dev/null; then echo "$host FAIL connect"; continue; fi
		printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
		status= who=
		while IFS= read -r -t 3 line <&3; do
			line=${line%$'\r'}
			case $line in
			HTTP/*) status=${line#* }; status=${status%% *} ;;
			"served by "*) who=${line#served by } ;;
			esac
		done
		exec 3<&-
		if [ "$status" = 200 ] && [ -n "$who" ]; then echo "$host $who"; else echo "$host FAIL status ${status:-none}"; fi
	done
done
