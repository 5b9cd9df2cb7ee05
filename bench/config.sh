#!/bin/sh
# lvsd check vs ldirectord (FILE status) on generated ldirectord.cf files of
# 1k, 10k and 100k real servers: wall time, peak RSS, ratio. See docs/config.md.
set -e
cd "$(dirname "$0")/.."
[ -x bin/lvsd ] || go build -o bin/lvsd ./cmd/lvsd
go run ./bench/config -lvsd bin/lvsd "$@"
