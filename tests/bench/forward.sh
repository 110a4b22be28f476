#!/usr/bin/env bash
# The forward part of the benchmark (issue 14 item 3): `run.sh forward`. Three forwarders in
# front of the same backend, measured in the same run, interleaved round by round:
#   forward  superserverd's forward built-in, event model, one worker
#   proxyd   systemd-socket-proxyd behind systemd-socket-activate (one process, splice)
#   socat    socat TCP-LISTEN:...,fork (a process per connection)
# BENCH_SSD and BENCH_TOOLS (the directory of ssbench and ssref) measure an existing build.
# Two loads: new connections per second (ssbench connect-read: connect, read the backend's
# daytime line to EOF, close; BENCH_CONCURRENCY in flight) against ssref's daytime mode, and
# one BENCH_FORWARD_MIB (1024) MiB transfer client -> forwarder -> sink, timed from the first
# byte sent to the sink's end of input. The median of BENCH_ROUNDS is shown, with the goal
# ratios (forward >= 1.0x proxyd on both; >= 2x socat on connections/s). Results go to
# tests/bench/results/forward.txt. Every wait is bounded.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build-bench
RESULTS=$ROOT/tests/bench/results
SSD=${BENCH_SSD:-$BUILD/superserverd}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONC=${BENCH_CONCURRENCY:-64}
MIB=${BENCH_FORWARD_MIB:-1024}
PROXYD=/lib/systemd/systemd-socket-proxyd
TMP=$(mktemp -d /tmp/ssbench-forward.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$RESULTS/logs"
if [ -z "${BENCH_SSD:-}" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$RESULTS/logs/forward-build.log" 2>&1 &&
		cmake --build "$BUILD" -j2 >>"$RESULTS/logs/forward-build.log" 2>&1 || {
		echo "build failed: see $RESULTS/logs/forward-build.log" >&2
		exit 1
	}
fi
if ! command -v socat >/dev/null || [ ! -x "$PROXYD" ]; then
	[ -n "${BENCH_NO_INSTALL:-}" ] || apt-get install -y socat systemd >/dev/null 2>&1
fi
SSBENCH=${BENCH_TOOLS:-$BUILD/tests/bench}/ssbench
SSREF=${BENCH_TOOLS:-$BUILD/tests/bench}/ssref

free_port() { "$SSBENCH" --mode free-port; }

wait_port() { # PORT: until it accepts, at most 10 s
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_forwarder() { # NAME LISTEN_PORT TARGET_PORT -> pid in FPID
	local name=$1 port=$2 target=$3
	case $name in
	forward)
		cat >"$TMP/ss.yaml" <<-YAML
			control: {socket: $TMP/ctl.sock}
			defaults: {user: nobody}
			services:
			  fw:
			    listen: ['127.0.0.1:$port']
			    builtin: forward
			    args: {target: '127.0.0.1:$target'}
			    mpm: {model: event, workers: 1}
			    limits: {max_connections: 100000, idle_timeout: 60s}
		YAML
		"$SSD" -c "$TMP/ss.yaml" >"$RESULTS/logs/forward-ssd.log" 2>&1 &
		;;
	proxyd)
		systemd-socket-activate -l "127.0.0.1:$port" "$PROXYD" "127.0.0.1:$target" \
			>"$RESULTS/logs/forward-proxyd.log" 2>&1 &
		;;
	socat)
		socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=1024" \
			"TCP:127.0.0.1:$target" >"$RESULTS/logs/forward-socat.log" 2>&1 &
		;;
	esac
	FPID=$!
	wait_port "$port"
}

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# The sink and the sender of the transfer: python, the same for every forwarder.
cat >"$TMP/xfer.py" <<'PY'
import socket, sys, threading, time
port, sink_port, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", sink_port)); ls.listen(4)
got = [0]
def sink():
    s, _ = ls.accept(); buf = bytearray(4 << 20); mv = memoryview(buf)
    while True:
        n = s.recv_into(mv)
        if not n: break
        got[0] += n
t = threading.Thread(target=sink); t.start()
c = socket.create_connection(("127.0.0.1", port)); chunk = bytes(4 << 20)
t0 = time.monotonic()
for _ in range(mib // 4): c.sendall(chunk)
c.shutdown(socket.SHUT_WR); t.join(120); dt = time.monotonic() - t0
print("ok" if got[0] == mib << 20 else "short", "%.1f" % (mib / dt))
PY

declare -A CPS MBS
NAMES=(forward proxyd socat)
for round in $(seq "$ROUNDS"); do
	for name in "${NAMES[@]}"; do
		# connections per second
		bport=$(free_port)
		"$SSREF" --port "$bport" --mode daytime >/dev/null 2>&1 &
		bpid=$!
		wait_port "$bport"
		fport=$(free_port)
		start_forwarder "$name" "$fport" "$bport"
		out=$("$SSBENCH" --port "$fport" --mode connect-read --concurrency "$CONC" \
			--duration "$DURATION" 2>&1)
		cps=$(sed -n 's/.*ops_s=\([0-9.]*\).*/\1/p' <<<"$out")
		[ -n "$cps" ] || cps=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out")
		echo "round $round $name connections: $out" >>"$RESULTS/logs/forward-runs.log"
		CPS[$name]+="${cps:-0} "
		stop_pid "$FPID"
		stop_pid "$bpid"
		# transfer
		sport=$(free_port)
		fport=$(free_port)
		start_forwarder "$name" "$fport" "$sport" || true
		# The forwarder connects only once a client comes; the sink listens first.
		res=$(timeout 300 python3 "$TMP/xfer.py" "$fport" "$sport" "$MIB" 2>&1 | tail -1)
		echo "round $round $name transfer: $res" >>"$RESULTS/logs/forward-runs.log"
		case $res in ok\ *) MBS[$name]+="${res#ok } " ;; *) MBS[$name]+="0 " ;; esac
		stop_pid "$FPID"
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }
{
	echo "forward part: $ROUNDS rounds, ${DURATION}s, concurrency $CONC, ${MIB} MiB transfer ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	printf '%-10s %14s %14s\n' server "conn/s" "MiB/s"
	for name in "${NAMES[@]}"; do
		printf '%-10s %14s %14s\n' "$name" "$(median <<<"${CPS[$name]}")" "$(median <<<"${MBS[$name]}")"
	done
	f_c=$(median <<<"${CPS[forward]}"); p_c=$(median <<<"${CPS[proxyd]}"); s_c=$(median <<<"${CPS[socat]}")
	f_m=$(median <<<"${MBS[forward]}"); p_m=$(median <<<"${MBS[proxyd]}")
	awk -v fc="$f_c" -v pc="$p_c" -v sc="$s_c" -v fm="$f_m" -v pm="$p_m" 'BEGIN {
		printf "goal conn/s  forward/proxyd %.2fx (>= 1.0)   forward/socat %.2fx (>= 2.0)\n", (pc ? fc / pc : 0), (sc ? fc / sc : 0)
		printf "goal MiB/s   forward/proxyd %.2fx (>= 1.0)\n", (pm ? fm / pm : 0) }'
} | tee "$RESULTS/forward.txt"
