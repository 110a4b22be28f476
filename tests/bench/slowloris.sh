#!/usr/bin/env bash
# The slowloris benchmark, on demand (never by CTest; `run.sh slowloris` runs it too): a
# prefork echo service (start 4, max_workers 256) is attacked from 127.0.0.2 by
# SLOWLORIS_CONNECTIONS connections that each send one byte every SLOWLORIS_INTERVAL
# seconds, for SLOWLORIS_ATTACK seconds, while a probe from 127.0.0.1 asks for one echo a
# second. ssloris prints the pool size each second, and at the end: the time the pool took
# to reach max_workers, how many probes were served during the attack, and how long the
# pool took after the attack to shrink back to max_spare (8). Every variant runs once per
# round, the order alternating; the results go to tests/bench/results/slowloris.txt.
#
# Variants (SLOWLORIS_VARIANTS, default "default recipe"):
#   default  no limits written: the defaults (idle_timeout 60 s for a built-in)
#   recipe   the hardening of docs/limits.md: per_source 32, idle_timeout 10s, max_duration 30s
#   off      idle_timeout 0 (nothing ends a silent client)
# Environment:
#   SLOWLORIS_SSD=PATH        the superserverd to measure (default: build-bench's), e.g. an
#                             older build, for a before/after comparison
#   SLOWLORIS_CONNECTIONS=2000 SLOWLORIS_INTERVAL=3 SLOWLORIS_ATTACK=25 SLOWLORIS_AFTER=90
#   SLOWLORIS_MAX_WORKERS=256 SLOWLORIS_ROUNDS=1
# Loopback only; bounded: at most 20000 connections, each run at most ATTACK + AFTER s.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${SLOWLORIS_BUILD:-$ROOT/build-bench}
RESULTS=$ROOT/tests/bench/results
SSD=${SLOWLORIS_SSD:-$BUILD/superserverd}
SSLORIS=$BUILD/tests/bench/ssloris
SSBENCH=$BUILD/tests/bench/ssbench
CONNS=${SLOWLORIS_CONNECTIONS:-2000}
INTERVAL=${SLOWLORIS_INTERVAL:-3}
ATTACK=${SLOWLORIS_ATTACK:-25}
AFTER=${SLOWLORIS_AFTER:-90}
MAXW=${SLOWLORIS_MAX_WORKERS:-256}
ROUNDS=${SLOWLORIS_ROUNDS:-1}
VARIANTS=${SLOWLORIS_VARIANTS:-default recipe}
MAX_SPARE=8

log() { printf '[slowloris] %s\n' "$*" >&2; }

TMP=$(mktemp -d /tmp/ss-slowloris.XXXXXX)
DPID=""
cleanup() {
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RESULTS"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/build.log" 2>&1 &&
	cmake --build "$BUILD" -j2 --target ssloris ssbench superserverd >>"$TMP/build.log" 2>&1 || {
	cat "$TMP/build.log" >&2
	exit 1
}

limits_of() {
	case $1 in
	default) echo "" ;;
	recipe) echo "    limits: {per_source: 32, idle_timeout: 10s, max_duration: 30s}" ;;
	off) echo "    limits: {idle_timeout: 0}" ;;
	*) log "unknown variant $1" && exit 2 ;;
	esac
}

run_one() { # VARIANT: one daemon, one attack; appends the summary line to $TMP/rows
	local v=$1 port conf
	port=$("$SSBENCH" --mode free-port) || exit 1
	conf=$TMP/$v.yaml
	cat >"$conf" <<-EOF2
		log: {level: notice}
		control: {socket: "$TMP/control.sock"}
		defaults: {user: nobody, shutdown_timeout: 1s}
		services:
		  e:
		    listen: ["127.0.0.1:$port"]
		    builtin: echo
		    mpm: {model: prefork, start: 4, min_spare: 2, max_spare: $MAX_SPARE, max_workers: $MAXW}
	EOF2
	limits_of "$v" >>"$conf"
	"$SSD" --config "$conf" >"$TMP/$v.log" 2>&1 &
	DPID=$!
	"$SSBENCH" --mode wait --probe echo --port "$port" --duration 10 >/dev/null || {
		log "$v: the daemon did not answer"
		cat "$TMP/$v.log" >&2
		exit 1
	}
	log "$v: attacking port $port ($CONNS connections, 1 byte every ${INTERVAL}s, ${ATTACK}s)"
	"$SSLORIS" --port "$port" --pid "$DPID" --connections "$CONNS" --interval "$INTERVAL" \
		--attack "$ATTACK" --after "$AFTER" --max-workers "$MAXW" --rest "$MAX_SPARE" \
		>"$TMP/$v.timeline" || exit 1
	kill -TERM "$DPID"
	wait "$DPID" 2>/dev/null
	DPID=""
	cp "$TMP/$v.timeline" "$RESULTS/slowloris-$v.timeline"
	printf '%s %s\n' "$v" "$(tail -n 1 "$TMP/$v.timeline")" >>"$TMP/rows"
}

: >"$TMP/rows"
for ((r = 0; r < ROUNDS; r++)); do
	order=$VARIANTS
	[ $((r % 2)) = 1 ] && order=$(printf '%s\n' $VARIANTS | tac | tr '\n' ' ')
	for v in $order; do run_one "$v"; done
done

{
	echo "# slowloris on prefork (start 4, min_spare 2, max_spare $MAX_SPARE, max_workers $MAXW), $(date -u +%FT%TZ)"
	echo "# $SSD; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $CONNS connections from 127.0.0.2, 1 byte every ${INTERVAL}s for ${ATTACK}s; a probe from 127.0.0.1 each second (served = echoed within 5 s)"
	cat "$TMP/rows"
} | tee "$RESULTS/slowloris.txt"
