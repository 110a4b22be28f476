#!/usr/bin/env bash
# Parallel long programs through superserverd fork+exec and xinetd (issue 12 item 8):
# N clients at once, each served by a program that works for a while, the time until all
# are done. Two programs: `git daemon --inetd` cloned by N `git clone`s of a small repo
# (a bare clone of this project), and `sh` burning CPU (BURN_LOOPS iterations).
# Rounds are interleaved; the machine's load average is printed with each. Loopback
# only, every client under `timeout`.
#
# Usage: parallel_exec.sh      (needs build-bench from run.sh, xinetd and git)
#   N=20 ROUNDS=3 BURN_LOOPS=300000 SERVERS="superserverd xinetd" SSD=path/to/superserverd
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SSD=${SSD:-$ROOT/build-bench/superserverd}
SSBENCH=$ROOT/build-bench/tests/bench/ssbench
N=${N:-20}
ROUNDS=${ROUNDS:-3}
BURN_LOOPS=${BURN_LOOPS:-300000}
SERVERS=${SERVERS:-superserverd xinetd}
GIT_DAEMON=$(git --exec-path 2>/dev/null)/git-daemon

for t in "$SSD" "$SSBENCH" "$GIT_DAEMON"; do
	[ -x "$t" ] || { echo "missing $t (run tests/bench/run.sh exec first)" >&2; exit 1; }
done
command -v xinetd >/dev/null || { echo "xinetd is not installed" >&2; exit 1; }

TMP=$(mktemp -d /tmp/ssparallel.XXXXXX)
chmod 755 "$TMP"
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

git clone -q --bare "$ROOT" "$TMP/repos/repo.git" || exit 1
chown -R nobody "$TMP/repos" 2>/dev/null # git refuses a repository its user does not own
printf '#!/bin/sh\ni=0; while [ $i -lt %s ]; do i=$((i + 1)); done; echo done\n' "$BURN_LOOPS" \
	>"$TMP/burn"
chmod 755 "$TMP/burn"

start() { # SERVER PORT ARGV...: starts SERVER running ARGV for each connection
	local server=$1 port=$2
	shift 2
	if [ "$server" = xinetd ]; then
		{
			printf 'defaults\n{\n instances = UNLIMITED\n per_source = UNLIMITED\n cps = 1000000 1\n}\n'
			printf 'service p\n{\n type = UNLISTED\n socket_type = stream\n protocol = tcp\n'
			printf ' wait = no\n user = nobody\n bind = 127.0.0.1\n port = %s\n' "$port"
			printf ' flags = REUSE\n server = %s\n' "$1"
			[ $# -gt 1 ] && printf ' server_args = %s\n' "${*:2}"
			printf '}\n'
		} >"$TMP/x.conf"
		xinetd -dontfork -pidfile "$TMP/x.pid" -f "$TMP/x.conf" </dev/null >>"$TMP/x.log" 2>&1 &
	else
		{
			printf 'log: {level: warning}\ndefaults: {user: nobody, shutdown_timeout: 1s}\n'
			printf 'services:\n  p:\n    listen: ["127.0.0.1:%s"]\n    exec: [%s]\n' "$port" \
				"$(printf '%s, ' "$@" | sed 's/, $//')"
			printf 'control: {socket: "%s/ctl.sock"}\n' "$TMP"
		} >"$TMP/s.yaml"
		"$SSD" -c "$TMP/s.yaml" </dev/null >>"$TMP/s.log" 2>&1 &
	fi
	SPID=$!
	"$SSBENCH" --mode wait --probe connect --port "$port" --duration 10 >/dev/null
}

run() { # LOAD SERVER: one round: the seconds until all N clients are done
	local load=$1 server=$2 port t0 pids=() i ok
	port=$("$SSBENCH" --mode free-port)
	if [ "$load" = git ]; then
		start "$server" "$port" "$GIT_DAEMON" --inetd --export-all "--base-path=$TMP/repos" ||
			return
	else
		start "$server" "$port" "$TMP/burn" || return
	fi
	rm -rf "$TMP/c"
	mkdir -p "$TMP/c"
	t0=$(date +%s%N)
	for ((i = 0; i < N; i++)); do
		if [ "$load" = git ]; then
			timeout 120 git clone -q "git://127.0.0.1:$port/repo.git" "$TMP/c/$i" 2>/dev/null &&
				touch "$TMP/c/ok$i" &
		else
			timeout 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && grep -q done <&3" &&
				touch "$TMP/c/ok$i" &
		fi
		pids+=($!)
	done
	wait "${pids[@]}"
	ok=$(find "$TMP/c" -maxdepth 1 -name 'ok*' | wc -l)
	printf '%-6s %-13s %8.2f s  (%d/%d done, load %s)\n' "$load" "$server" \
		"$(awk -v d=$(($(date +%s%N) - t0)) 'BEGIN { print d / 1e9 }')" "$ok" "$N" \
		"$(cut -d' ' -f1 /proc/loadavg)"
	kill "$SPID" && wait "$SPID" 2>/dev/null
	SPID=""
}

echo "$N clients at once; $(nproc) cores; kernel.sched_autogroup_enabled=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?')"
for ((r = 1; r <= ROUNDS; r++)); do
	for load in burn git; do
		for s in $SERVERS; do run "$load" "$s"; done
	done
done
