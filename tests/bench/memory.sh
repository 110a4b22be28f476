#!/usr/bin/env bash
# The memory benchmark (issue 12 item 7), run on demand (never by CTest): does a worker give
# memory back once a burst of connections is over? For each model it starts superserverd
# with a chargen service, measures the worker's PSS idle, while N clients that never read
# are connected (each connection's output buffer fills up), and after they leave, until the
# PSS is back within 10% of the idle figure or MEM_AFTER seconds have passed.
#
# Usage: memory.sh [MODEL...]      (models: event threadpool; default event)
#        tests/bench/run.sh memory  (the same, through the main benchmark script)
#
# Environment:
#   MEM_CLIENTS=2000   clients that never read
#   MEM_STAY=0         more such clients that stay connected after the others leave (a
#                      worker nearly idle rather than idle)
#   MEM_HOLD=20        at most this many seconds for their buffers to fill (the PSS stops
#                      growing: two samples 1 s apart within 1%)
#   MEM_AFTER=10       seconds to wait, after they leave, for the PSS to come back
#   MEM_SSD=PATH       the superserverd to measure (default: build-bench/superserverd, built)
# Output: one line per model, also appended to tests/bench/results/memory.txt.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build-bench
RESULTS=$ROOT/tests/bench/results
CLIENTS=${MEM_CLIENTS:-2000}
STAY=${MEM_STAY:-0}
HOLD=${MEM_HOLD:-20}
AFTER=${MEM_AFTER:-10}
SSD=${MEM_SSD:-}
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(event)

log() { printf '[memory] %s\n' "$*" >&2; }

command -v python3 >/dev/null || {
	log "python3 is needed for the clients (apt-get install python3)"
	exit 1
}
if [ -z "$SSD" ]; then
	SSD=$BUILD/superserverd
	mkdir -p "$RESULTS/logs"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$RESULTS/logs/memory-build.log" 2>&1 &&
		cmake --build "$BUILD" -j2 --target superserverd >>"$RESULTS/logs/memory-build.log" 2>&1 || {
		log "build failed, see $RESULTS/logs/memory-build.log"
		exit 1
	}
fi

TMP=$(mktemp -d)
SPID="" CPID=""
cleanup() { # only what this script started, by pid
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The clients: connect N with a small receive buffer (the kernel holds little, the server
# much), never read; the first N leave when told on stdin, the others at stdin's end.
cat >"$TMP/clients.py" <<'EOF'
import resource, socket, sys
n, stay, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + stay + 64), hard))
socks = []
for _ in range(n + stay):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("connected", flush=True)
sys.stdin.readline()
for s in socks[:n]:
    s.close()
print("closed", flush=True)
sys.stdin.read()
EOF

pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
now() { date +%s.%N; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

worker_of() { # MASTER: its one child (one worker configured)
	local p
	for p in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		echo "$p"
		return
	done
}

mpm_of() {
	case $1 in
	event) echo "{model: event, workers: 1, max_connections: 16384}" ;;
	threadpool) echo "{model: threadpool, processes: 1, threads: 8}" ;;
	*) return 1 ;;
	esac
}

run_model() {
	local model=$1 port mpm worker base peak cur prev after back="-" t0 i
	mpm=$(mpm_of "$model") || {
		log "unknown model $model"
		return 1
	}
	port=$(free_port)
	cat >"$TMP/$model.yaml" <<-EOF
		log: {level: warning}
		defaults: {user: nobody, shutdown_timeout: 1s}
		services:
		  cg:
		    listen: ["127.0.0.1:$port"]
		    builtin: chargen
		    mpm: $mpm
		    limits: {max_connections: $((CLIENTS + STAY + 100)), per_source: $((CLIENTS + STAY + 100))}
		control: {socket: "$TMP/control.sock"}
	EOF
	"$SSD" -c "$TMP/$model.yaml" >"$TMP/$model.log" 2>&1 &
	SPID=$!
	for ((i = 0; i < 100; i++)); do
		worker=$(worker_of "$SPID")
		[ -n "$worker" ] && [ "$(pss "$worker")" != 0 ] && break
		sleep 0.1
	done
	[ -n "$worker" ] || {
		log "$model: no worker (see below)"
		cat "$TMP/$model.log" >&2
		return 1
	}
	sleep 1
	base=$(pss "$worker")

	coproc CLI { exec python3 "$TMP/clients.py" "$CLIENTS" "$STAY" "$port" 2>&1; }
	CPID=$CLI_PID
	read -r -t 60 line <&"${CLI[0]}" && [ "$line" = connected ] || {
		log "$model: the clients could not connect: ${line:-timeout}"
		return 1
	}
	peak=$(pss "$worker") prev=0
	for ((i = 0; i < HOLD; i++)); do
		sleep 1
		cur=$(pss "$worker")
		[ "$cur" -gt "$peak" ] && peak=$cur
		awk -v a="$cur" -v b="$prev" 'BEGIN { exit !(a <= b * 1.01) }' && break
		prev=$cur
	done
	echo leave >&"${CLI[1]}"
	read -r -t 60 line <&"${CLI[0]}"
	t0=$(now)
	for ((i = 0; i < AFTER * 10; i++)); do
		sleep 0.1
		after=$(pss "$worker")
		if [ "$back" = - ] && awk -v a="$after" -v b="$base" 'BEGIN { exit !(a <= b * 1.1) }'; then
			back=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
		fi
	done
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
	CPID=""
	printf '%-10s clients %5d+%d  idle %7d KiB  peak %7d KiB  after %ss %7d KiB (%+.0f%%)  within 10%% after: %ss\n' \
		"$model" "$CLIENTS" "$STAY" "$base" "$peak" "$AFTER" "$after" \
		"$(awk -v a="$after" -v b="$base" 'BEGIN { print (a - b) * 100 / b }')" "$back" |
		tee -a "$RESULTS/memory.txt"
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}

mkdir -p "$RESULTS"
echo "# $(date -u +%FT%TZ) $SSD" >>"$RESULTS/memory.txt"
for m in "${MODELS[@]}"; do
	run_model "$m" || exit 1
done
