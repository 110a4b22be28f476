#!/usr/bin/env bash
# The forward part of the benchmark (issue 14 item 3): `run.sh forward`. Every forwarder in
# front of the same kind of target, measured in the same run, interleaved round by round
# (the order rotates each round so none always runs first on a busy machine):
#   forward1  superserverd's forward built-in, event model, workers: 1 (one process, one
#             epoll loop: the like of proxyd)
#   forward2  the same with workers: 2 (one process per core of a 2-core machine)
#   proxyd    systemd-socket-proxyd behind systemd-socket-activate (one process, one event
#             loop, splice)
#   socat     socat TCP-LISTEN:...,fork (one process per connection: every core it can get)
# BENCH_SSD and BENCH_TOOLS (the directory of ssbench and ssref) measure an existing build;
# BENCH_FORWARD_ONLY=a,b runs some of them. BENCH_SSD_BASE=PATH adds a row `base1`: that
# superserverd (another branch's build) as forward1, for a before/after in the same rounds.
# Two loads, each against a fresh target of the same program:
#   connections/s  ssbench connect-read (connect, read the target's daytime line to EOF,
#                  close; BENCH_CONCURRENCY in flight, clients bound in turn to
#                  BENCH_SOURCES) against ssref's daytime mode, BENCH_DURATION seconds
#   transfer       one BENCH_FORWARD_MIB (1024: the issue's 1 GiB) MiB stream client ->
#                  forwarder -> sink (python, the same for all), timed from the first byte
#                  sent to the sink's end of input
# For each, the forwarder's CPU (user+system of its whole process tree, children reaped
# included, read from /proc before and after the load) per connection and per MiB: the
# figure that matters on a machine shared with other work. The median of BENCH_ROUNDS is
# shown, with the goal ratios (forward >= 1.0x proxyd on both; >= 2x socat on
# connections/s), taken with forward1. Results go to tests/bench/results/forward.txt, every
# round to results/logs/forward-runs.log. Every wait is bounded.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build-bench
RESULTS=$ROOT/tests/bench/results
SSD=${BENCH_SSD:-$BUILD/superserverd}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-5}
CONC=${BENCH_CONCURRENCY:-64}
MIB=${BENCH_FORWARD_MIB:-1024}
SOURCES=${BENCH_SOURCES:-127.0.0.1,127.0.0.3,127.0.0.4,127.0.0.5}
PROXYD=/lib/systemd/systemd-socket-proxyd
TMP=$(mktemp -d /tmp/ssbench-forward.XXXXXX)
HZ=$(getconf CLK_TCK)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$RESULTS/logs"
: >"$RESULTS/logs/forward-runs.log"
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

# free_port, wait_port, cpu_ticks, median
# shellcheck source=proc_cpu.sh
. "$ROOT/tests/bench/proc_cpu.sh"

start_forwarder() { # NAME LISTEN_PORT TARGET_PORT -> pid in FPID
	local name=$1 port=$2 target=$3
	case $name in
	forward1 | forward2 | base1)
		cat >"$TMP/ss.yaml" <<-YAML
			control: {socket: $TMP/ctl.sock}
			defaults: {user: nobody}
			services:
			  fw:
			    listen: ['127.0.0.1:$port']
			    builtin: forward
			    args: {target: '127.0.0.1:$target'}
			    mpm: {model: event, workers: ${name: -1}}
			    limits: {max_connections: 100000, idle_timeout: 60s}
		YAML
		bin=$SSD
		[ "$name" = base1 ] && bin=$BENCH_SSD_BASE
		"$bin" -c "$TMP/ss.yaml" >>"$RESULTS/logs/forward-ssd.log" 2>&1 &
		;;
	proxyd)
		systemd-socket-activate -l "127.0.0.1:$port" "$PROXYD" "127.0.0.1:$target" \
			>>"$RESULTS/logs/forward-proxyd.log" 2>&1 &
		;;
	socat)
		socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=1024" \
			"TCP:127.0.0.1:$target" >>"$RESULTS/logs/forward-socat.log" 2>&1 &
		;;
	esac
	FPID=$!
	PIDS+=("$FPID")
	wait_port "$port"
}

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# The sink and the sender of the transfer: python, the same for every forwarder. It
# connects first and waits for the sink's accept before timing, so the forwarder's
# start-up is not in the figure.
cat >"$TMP/xfer.py" <<'PY'
import socket, sys, threading, time
port, sink_port, mib = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", sink_port)); ls.listen(4)
got = [0]; accepted = threading.Event()
def sink():
    s, _ = ls.accept(); accepted.set(); buf = bytearray(4 << 20); mv = memoryview(buf)
    while True:
        n = s.recv_into(mv)
        if not n: break
        got[0] += n
t = threading.Thread(target=sink); t.start()
c = socket.create_connection(("127.0.0.1", port)); chunk = bytes(4 << 20)
accepted.wait(10)
t0 = time.monotonic()
for _ in range(mib // 4): c.sendall(chunk)
c.shutdown(socket.SHUT_WR); t.join(120); dt = time.monotonic() - t0
print("ok" if got[0] == mib << 20 else "short", "%.1f" % (mib / dt))
PY

declare -A CPS MBS CPC CPM
NAMES=(forward1 forward2 proxyd socat)
[ -n "${BENCH_SSD_BASE:-}" ] && NAMES+=(base1)
[ -n "${BENCH_FORWARD_ONLY:-}" ] && IFS=, read -r -a NAMES <<<"$BENCH_FORWARD_ONLY"
log() { echo "$*" >>"$RESULTS/logs/forward-runs.log"; }
for round in $(seq "$ROUNDS"); do
	# rotate the order: round r starts with the r-th forwarder
	order=()
	for i in "${!NAMES[@]}"; do order+=("${NAMES[$(((i + round - 1) % ${#NAMES[@]}))]}"); done
	for name in "${order[@]}"; do
		# connections per second
		bport=$(free_port)
		"$SSREF" --port "$bport" --mode daytime >/dev/null 2>&1 &
		bpid=$!
		PIDS+=("$bpid")
		wait_port "$bport"
		fport=$(free_port)
		start_forwarder "$name" "$fport" "$bport"
		c0=$(cpu_ticks "$FPID")
		out=$("$SSBENCH" --port "$fport" --source "$SOURCES" --mode connect-read \
			--concurrency "$CONC" --duration "$DURATION" 2>&1)
		c1=$(cpu_ticks "$FPID")
		cps=$(sed -n 's/.*ops_s=\([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
		ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$out" | tail -1)
		cpc=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${ops:-0}" \
			'BEGIN { printf "%.1f", n ? t / hz * 1e6 / n : 0 }')
		log "round $round $name connections: cpu_ticks=$((c1 - c0)) us_per_conn=$cpc $out"
		CPS[$name]+="${cps:-0} "
		CPC[$name]+="$cpc "
		stop_pid "$FPID"
		stop_pid "$bpid"
		# transfer
		sport=$(free_port)
		fport=$(free_port)
		start_forwarder "$name" "$fport" "$sport" || true
		c0=$(cpu_ticks "$FPID")
		res=$(timeout 300 python3 "$TMP/xfer.py" "$fport" "$sport" "$MIB" 2>&1 | tail -1)
		c1=$(cpu_ticks "$FPID")
		cpm=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v m="$MIB" \
			'BEGIN { printf "%.0f", t / hz * 1e6 / m }')
		log "round $round $name transfer: cpu_ticks=$((c1 - c0)) us_per_mib=$cpm $res"
		case $res in ok\ *) MBS[$name]+="${res#ok } " ;; *) MBS[$name]+="0 " ;; esac
		CPM[$name]+="$cpm "
		stop_pid "$FPID"
	done
done

{
	echo "forward part: $ROUNDS interleaved rounds, ${DURATION}s, concurrency $CONC, ${MIB} MiB transfer ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "medians; CPU = the forwarder's user+system time (whole process tree)"
	printf '%-10s %10s %14s %10s %14s\n' server "conn/s" "CPU us/conn" "MiB/s" "CPU us/MiB"
	for name in "${NAMES[@]}"; do
		printf '%-10s %10s %14s %10s %14s\n' "$name" "$(median <<<"${CPS[$name]:-}")" \
			"$(median <<<"${CPC[$name]:-}")" "$(median <<<"${MBS[$name]:-}")" "$(median <<<"${CPM[$name]:-}")"
	done
	f_c=$(median <<<"${CPS[forward1]:-}"); p_c=$(median <<<"${CPS[proxyd]:-}"); s_c=$(median <<<"${CPS[socat]:-}")
	f_m=$(median <<<"${MBS[forward1]:-}"); p_m=$(median <<<"${MBS[proxyd]:-}")
	awk -v fc="$f_c" -v pc="$p_c" -v sc="$s_c" -v fm="$f_m" -v pm="$p_m" 'BEGIN {
		printf "goal conn/s  forward1/proxyd %.2fx (>= 1.0)   forward1/socat %.2fx (>= 2.0)\n", (pc ? fc / pc : 0), (sc ? fc / sc : 0)
		printf "goal MiB/s   forward1/proxyd %.2fx (>= 1.0)\n", (pm ? fm / pm : 0) }'
} | tee "$RESULTS/forward.txt"
