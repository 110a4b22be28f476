#!/usr/bin/env bash
# The benchmark, run on demand (never by CTest): builds superserverd, superctl and the bench
# tools in build-bench, installs the comparison servers if missing, runs every load against
# every server on 127.0.0.1, and prints one table plus the goal ratios; both also go to
# tests/bench/results/latest.txt (limits.txt for a run of the limits part alone), the chart
# to tests/bench/results/chart.png.
#
# Usage: run.sh [all | models | limits | exec | dgram | memory | slowloris | forward | tls]
#        (or BENCH_PART=...; default all: models, limits and dgram)
#   models  the table of servers and models, the goal ratios and the chart
#   exec    fork+exec alone against tcpserver and xinetd: /usr/bin/date and the tiny
#           static ssdaytime, at BENCH_CONCURRENCY and at 1 connection in flight; fork
#           with one acceptor and with BENCH_FORK_ACCEPTORS (results/exec.txt)
#   limits  event and prefork with and without access + per_source + rate limits
#           (issue 6 item 9: limits keep >= 0.95x the throughput without them)
#   dgram   datagram services (issue 13 item 6, dgram.sh): UDP echo against ssref's recvmmsg
#           loop and xinetd's internal echo, tftp of a 10 MiB file through xinetd and
#           through the wait model, both running in.tftpd (results/dgram.txt)
#   memory  memory.sh: a worker's PSS idle, under non-reading clients, after they leave
#   slowloris  prefork under slow clients: runs tests/bench/slowloris.sh (its own knobs)
#   forward  forward.sh: the forward built-in against systemd-socket-proxyd and socat,
#           new connections/s and a 1 GiB transfer (results/forward.txt)
#   tls     tls.sh: TLS termination (issue 15 item 7) by superserverd's event, threadpool and
#           fork (+ /bin/cat) against nginx's stream ssl and stunnel4: TLS 1.3 handshakes/s
#           (ECDSA P-256, no resumption) and bulk MiB/s on persistent connections, CPU per
#           handshake and per MiB (results/tls.txt; knobs in its header). A superserverd row
#           whose configuration is refused (no model serves tls yet) prints n/a
#
# Environment:
#   BENCH_DURATION=3      seconds per measurement
#   BENCH_ROUNDS=3        measurements per row (interleaved across servers); the median is shown
#   BENCH_ONLY=a,b        servers to run: ssref nginx xinetd tcpserver fork fork-acc prefork threadpool event
#                         (dgram: ssref-udp xinetd-udp event-udp tftp-xinetd tftp-wait)
#   BENCH_CONCURRENCY=64  connections in flight
#   BENCH_HOLD_N=10000    idle connections held (event, nginx, ssref)
#   BENCH_HOLD_N_FORK=500 idle connections held by fork-per-connection servers
#   BENCH_EVENT_WORKERS=1 BENCH_PREFORK_START=64 BENCH_TP_PROCESSES=1 BENCH_TP_THREADS=8
#   BENCH_FORK_ACCEPTORS=2 acceptors of the fork-acc rows (fork+exec)
#   BENCH_LIMITS_ROUNDS=5 limits part: rounds of each (none, limits) pair, order alternated
#   BENCH_SOURCES=127.0.0.1,127.0.0.3,127.0.0.4,127.0.0.5  client addresses, used in turn
#   BENCH_UDP_CONCURRENCY=32 BENCH_UDP_WINDOW=4  dgram: UDP sockets, datagrams in flight on each
#   BENCH_TFTP_ROUNDS=3 BENCH_TFTP_CLIENTS=20     dgram: tftp rounds, fetches at once
#   BENCH_TFTP_KIB=10240   dgram: the tftp file's size in KiB (1: one block, so "1 fetch" is the
#                         start of in.tftpd and one round trip)
#   BENCH_SSD=PATH        the superserverd to measure (default: build-bench's, built here),
#                         e.g. another branch's build
#   BENCH_NO_INSTALL=1    never call apt-get
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build-bench
RESULTS=$ROOT/tests/bench/results
LOGS=$RESULTS/logs
SSBENCH=$BUILD/tests/bench/ssbench
SSREF=$BUILD/tests/bench/ssref
SSDAYTIME=$BUILD/tests/bench/ssdaytime
SSD=${BENCH_SSD:-$BUILD/superserverd}
SUPERCTL=$BUILD/superctl

DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-3}
ONLY=${BENCH_ONLY:-}
CONC=${BENCH_CONCURRENCY:-64}
HOLD_N=${BENCH_HOLD_N:-10000}
HOLD_N_FORK=${BENCH_HOLD_N_FORK:-500}
EVENT_WORKERS=${BENCH_EVENT_WORKERS:-1}
PREFORK_START=${BENCH_PREFORK_START:-64}
TP_PROCESSES=${BENCH_TP_PROCESSES:-1}
TP_THREADS=${BENCH_TP_THREADS:-8}
FORK_ACCEPTORS=${BENCH_FORK_ACCEPTORS:-2}
LIMITS_ROUNDS=${BENCH_LIMITS_ROUNDS:-5}
# The client addresses, used in turn, for every server and load. One address caps new
# connections to one server at ~14000/s on loopback whatever the server (the client must
# wait net.ipv4.tcp_tw_reuse_delay before reusing a port whose last connection is in
# TIME_WAIT, as after echo-new), which would measure the client instead of the server.
SOURCES=${BENCH_SOURCES:-${BENCH_LIMITS_SOURCES:-127.0.0.1,127.0.0.3,127.0.0.4,127.0.0.5}}
PART=${1:-${BENCH_PART:-all}}
case $PART in
all | models | limits | exec | dgram) ;;
memory) exec "$ROOT/tests/bench/memory.sh" "${@:2}" ;;
forward) exec bash "$ROOT/tests/bench/forward.sh" ;; # see its header
tls) exec bash "$ROOT/tests/bench/tls.sh" ;;             # see its header
slowloris) exec bash "$ROOT/tests/bench/slowloris.sh" ;; # its own knobs: see its header
*)
	echo "usage: $0 [all | models | limits | exec | dgram | memory | slowloris | forward | tls]" >&2
	exit 2
	;;
esac
# The datagram part's rows and settings (DG_*, TFTP*), and run_dgram.
# shellcheck source=dgram.sh
. "$ROOT/tests/bench/dgram.sh"
EXEC_PROG=(/usr/bin/date -u)
# The tiny program: a copy in $TMP (readable by nobody), set once $TMP exists.
TINY_PROG=()

exec_prog() { # KIND: sets PROG to the argv of the program an exec KIND runs
	case $1 in
	exec-tiny) PROG=("${TINY_PROG[@]}") ;;
	*) PROG=("${EXEC_PROG[@]}") ;;
	esac
}
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup, by pid only
STARTED=()   # every server pid this script started
HOLD_PID=""  # a backgrounded ssbench (hold)
TMP=""

alive() { # PID: running (a zombie counts as gone)
	local st
	st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

tree_pids() { # ROOT: ROOT and all its descendants
	ps -e -o pid=,ppid= 2>/dev/null | awk -v r="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END { q[1] = r; n = 1; for (i = 1; i <= n; i++) { print q[i];
			m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}

stop_pid() { # PID: SIGTERM, poll up to 5 s, then SIGKILL; leftovers of its tree too
	local pid=$1 tree i
	[ -n "$pid" ] || return 0
	tree=$(tree_pids "$pid")
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	for i in $tree; do
		[ "$i" != "$pid" ] && alive "$i" && kill -KILL "$i" 2>/dev/null
	done
	return 0
}

cleanup() {
	local p
	trap - EXIT INT TERM
	[ -n "$HOLD_PID" ] && stop_pid "$HOLD_PID"
	for p in "${STARTED[@]}"; do
		alive "$p" && stop_pid "$p"
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

launch() { # LOGFILE CMD...: start a server in the background; sets SPID, SLOG, SLOG_AT
	local logf=$1
	shift
	printf '=== %s: %s\n' "$(date -u +%T)" "$*" >>"$logf"
	SLOG=$logf
	SLOG_AT=$(wc -l <"$logf")
	"$@" </dev/null >>"$logf" 2>&1 &
	SPID=$!
	STARTED+=("$SPID")
}

crashes() { # lines of the current server's log, since its start, that tell of a crash
	tail -n +$((SLOG_AT + 1)) "$SLOG" 2>/dev/null |
		grep -Ec 'killed by signal|exited on signal|AddressSanitizer|Segmentation fault|Aborted|core dumped'
}

# ---------------------------------------------------------------- build and tools
build() {
	local attempt
	mkdir -p "$LOGS"
	for attempt in 1 2 3 4; do
		if cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$LOGS/build.log" 2>&1 &&
			cmake --build "$BUILD" -j2 --target ssbench ssref ssdaytime superserverd \
				>>"$LOGS/build.log" 2>&1; then
			return 0
		fi
		# Another engineer's half-written file may break the build for a moment.
		log "build failed (attempt $attempt, see $LOGS/build.log); retrying in 30 s"
		sleep 30
	done
	cmake --build "$BUILD" -j2 --target ssbench ssref ssdaytime >>"$LOGS/build.log" 2>&1 || {
		log "cannot build the bench tools"
		exit 1
	}
	log "superserverd does not build: its rows are n/a"
	SSD=""
}

# superctl reads the limits rows' rejection counters; without it only ssbench's errors tell.
build_superctl() {
	[ "$PART" = models ] || [ "$PART" = exec ] || [ "$PART" = dgram ] && return 0
	cmake --build "$BUILD" -j2 --target superctl >>"$LOGS/build.log" 2>&1 && return 0
	log "superctl does not build: the limits rows check ssbench's errors only"
	SUPERCTL=""
}

install_tools() {
	local missing=() pkg guard=0
	command -v xinetd >/dev/null || missing+=(xinetd)
	command -v tcpserver >/dev/null || missing+=(ucspi-tcp)
	command -v nginx >/dev/null || missing+=(nginx-light)
	[ -e "$NGINX_STREAM_MODULE" ] || missing+=(libnginx-mod-stream)
	command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
	# dgram: tftpd-hpa's in.tftpd (the package's own daemon, on port 69, is never used) and
	# tftp-hpa's client (other packages install a tftp without -c)
	[ -x "$TFTPD" ] || missing+=(tftpd-hpa)
	tftp -V 2>&1 | grep -q tftp-hpa || missing+=(tftp-hpa)
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$IS_ROOT" != 1 ] || [ -n "${BENCH_NO_INSTALL:-}" ] || ! command -v apt-get >/dev/null; then
		log "missing: ${missing[*]} (not installing): their rows are n/a"
		return 0
	fi
	log "installing ${missing[*]}"
	# Packages must not start their own daemons (nginx would take port 80).
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		guard=1
	fi
	apt-get update -qq >"$LOGS/apt.log" 2>&1
	for pkg in "${missing[@]}"; do
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" \
			>>"$LOGS/apt.log" 2>&1 ||
			{ [ "$pkg" = nginx-light ] &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
					--no-install-recommends nginx-core >>"$LOGS/apt.log" 2>&1; } ||
			log "cannot install $pkg: its rows are n/a"
	done
	[ "$guard" = 1 ] && rm -f /usr/sbin/policy-rc.d
	return 0
}

# ---------------------------------------------------------------- measurements
cpu_ticks() { # ROOT: utime+stime+cutime+cstime over the tree (cutime: reaped children)
	local p files=()
	for p in $(tree_pids "$1"); do files+=("/proc/$p/stat"); done
	cat "${files[@]}" 2>/dev/null |
		awk '{ sub(/.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

pss_kib() { # ROOT: sum of Pss over the tree
	local p files=()
	for p in $(tree_pids "$1"); do files+=("/proc/$p/smaps_rollup"); done
	cat "${files[@]}" 2>/dev/null | awk '$1 == "Pss:" { s += $2 } END { print s + 0 }'
}

settle() { # ROOT: wait until the tree's process count stops changing (deadline 10 s)
	local last=-1 same=0 n i
	for ((i = 0; i < 100; i++)); do
		n=$(tree_pids "$1" | wc -l)
		if [ "$n" = "$last" ]; then
			same=$((same + 1))
			[ $same -ge 3 ] && return 0
		else
			same=0
			last=$n
		fi
		sleep 0.1
	done
}

busy_ticks() { # user+nice+system of the whole machine, from /proc/stat
	awk '$1 == "cpu" { print $2 + $3 + $4; exit }' /proc/stat
}

kv() { # KEY LINE: the value of KEY=... in an ssbench line
	local w
	for w in $2; do
		[ "${w%%=*}" = "$1" ] && { printf '%s' "${w#*=}"; return; }
	done
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------- servers
declare -A DISPLAY=(
	[ssref]="ssref (epoll ref)" [nginx]="nginx stream" [xinetd]="xinetd"
	[tcpserver]="tcpserver" [fork]="superserverd fork" [fork-acc]="ss fork, $FORK_ACCEPTORS acceptors"
	[prefork]="superserverd prefork"
	[threadpool]="superserverd threadpool" [event]="superserverd event"
	[event:none]="superserverd event" [event:limits]="superserverd event"
	[ssref-udp]="ssref (recvmmsg ref)" [xinetd-udp]="xinetd" [event-udp]="superserverd event"
	[prefork:none]="superserverd prefork" [prefork:limits]="superserverd prefork")
declare -A MODEL_STATE # model -> ok | reason

# The limits part runs MODEL:none and MODEL:limits, the same service without and with
# these keys. Every rule is there to cost what it costs in real use: the allow list matches
# ssbench (SOURCES) among unrelated networks, the deny list has a more specific
# entry (127.0.0.2, used to prove the list is applied) and others, and the limits are far
# above what the machine can reach, so that nothing is ever refused or delayed.
LIMITS_KEYS=(
	'access:'
	'  allow: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 198.18.0.0/15,'
	'          127.0.0.0/8, "2001:db8::/32", "fd00::/8"]'
	'  deny: [10.66.0.0/16, 192.168.13.0/24, 127.0.0.2/32, "fd00:bad::/32"]'
	'limits:'
	'  per_source: 1024'
	'  rate: 1000000/s'
	'  burst: 1000000'
	'  per_source_rate: 1000000/s'
	'  per_source_burst: 1000000')
DENIED_SOURCE=127.0.0.2

wanted() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

ss_mpm() { # MODEL: the YAML mpm value used for that model
	case $1 in
	fork) echo "{model: fork, max_children: 1024}" ;;
	fork-acc) echo "{model: fork, max_children: 1024, acceptors: $FORK_ACCEPTORS}" ;;
	prefork) echo "{model: prefork, start: $PREFORK_START, min_spare: 8, max_spare: $((PREFORK_START > 8 ? PREFORK_START : 8)), max_workers: $((PREFORK_START * 2))}" ;;
	threadpool) echo "{model: threadpool, processes: $TP_PROCESSES, threads: $TP_THREADS}" ;;
	event) echo "{model: event, workers: $EVENT_WORKERS, max_connections: 16384}" ;;
	esac
}

ss_yaml() { # FILE PORT KIND MPM [VARIANT CONTROL_SOCKET]: VARIANT none | limits
	local what
	case $3 in
	daytime) what="builtin: daytime" ;;
	echo) what="builtin: echo" ;;
	exec | exec-tiny)
		exec_prog "$3"
		what="exec: [$(printf '%s, ' "${PROG[@]}" | sed 's/, $//')]"
		;;
	esac
	cat >"$1" <<-EOF
		# superserverd benchmark configuration (generated by tests/bench/run.sh)
		log: {level: warning}
		defaults: {user: nobody, shutdown_timeout: 1s}
		services:
		  bench:
		    listen: ["127.0.0.1:$2"]
		    $what
		    mpm: $4
	EOF
	[ "${5:-}" = limits ] && printf '    %s\n' "${LIMITS_KEYS[@]}" >>"$1"
	# Always a control socket of our own: the default one may belong to a daemon that
	# runs on this machine, and two daemons cannot share it.
	printf 'control: {socket: "%s"}\n' "${6:-$TMP/control-$2.sock}" >>"$1"
	return 0
}

# Is the model built, and does the daemon accept our options for it? Sets MODEL_STATE.
check_model() {
	local m=$1 f="$TMP/check-$1.yaml" out
	[ -n "${MODEL_STATE[$m]:-}" ] && return
	if [ -z "$SSD" ] || [ ! -x "$SSD" ]; then
		MODEL_STATE[$m]="n/a (superserverd not built)"
		return
	fi
	ss_yaml "$f" 1 echo "${m%-acc}"
	if ! out=$("$SSD" --check-config -c "$f" 2>&1); then
		MODEL_STATE[$m]="n/a (model not built yet)"
		printf '%s\n' "$out" >"$LOGS/check-$m.log"
		return
	fi
	ss_yaml "$f" 1 echo "$(ss_mpm "$m")"
	if ! out=$("$SSD" --check-config -c "$f" 2>&1); then
		MODEL_STATE[$m]="n/a (bench options refused, see logs/check-$m.log)"
		printf '%s\n' "$out" >"$LOGS/check-$m.log"
		return
	fi
	MODEL_STATE[$m]=ok
}

# Sets WHY to the reason SERVER cannot run here, or to nothing.
unavailable() {
	WHY=""
	case $1 in
	nginx) command -v nginx >/dev/null && [ -e "$NGINX_STREAM_MODULE" ] ||
		WHY="n/a (nginx or its stream module not installed)" ;;
	xinetd) command -v xinetd >/dev/null || WHY="n/a (xinetd not installed)" ;;
	tcpserver) command -v tcpserver >/dev/null || WHY="n/a (ucspi-tcp not installed)" ;;
	fork | fork-acc | prefork | threadpool | event)
		check_model "$1"
		[ "${MODEL_STATE[$1]}" = ok ] || WHY=${MODEL_STATE[$1]} ;;
	*:none)
		check_model "${1%%:*}"
		[ "${MODEL_STATE[${1%%:*}]}" = ok ] || WHY=${MODEL_STATE[${1%%:*}]} ;;
	ssref-udp) ;;
	xinetd-udp) command -v xinetd >/dev/null || WHY="n/a (xinetd not installed)" ;;
	event-udp) dg_check event-udp ;;
	*:limits)
		check_model "${1%%:*}"
		[ "${MODEL_STATE[${1%%:*}]}" = ok ] || WHY=${MODEL_STATE[${1%%:*}]}
		[ -n "$WHY" ] || check_limits "${1%%:*}"
		[ -n "$WHY" ] || [ "${MODEL_STATE[$1]}" = ok ] || WHY=${MODEL_STATE[$1]} ;;
	esac
}

# Does the daemon accept the limits variant's keys for MODEL? Sets MODEL_STATE[MODEL:limits].
check_limits() {
	local m=$1 f="$TMP/check-$1-limits.yaml" out
	[ -n "${MODEL_STATE[$m:limits]:-}" ] && return
	ss_yaml "$f" 1 echo "$(ss_mpm "$m")" limits "$TMP/check.sock"
	if ! out=$("$SSD" --check-config -c "$f" 2>&1); then
		MODEL_STATE[$m:limits]="n/a (limits refused, see logs/check-$m-limits.log)"
		printf '%s\n' "$out" >"$LOGS/check-$m-limits.log"
		return
	fi
	MODEL_STATE[$m:limits]=ok
}

nginx_conf() { # FILE PORT KIND [BACKEND]
	local body
	if [ "$3" = daytime ]; then
		body="return \"\$time_local\\r\\n\";"
	else
		body="proxy_pass 127.0.0.1:$4; proxy_timeout 10m;"
	fi
	cat >"$1" <<-EOF
		# nginx benchmark configuration (generated by tests/bench/run.sh)
		load_module $NGINX_STREAM_MODULE;
		daemon off;
		master_process on;
		worker_processes 1;
		worker_rlimit_nofile $(ulimit -Hn);
		pid $TMP/nginx.pid;
		error_log stderr warn;
		events { worker_connections $(ulimit -Hn); }
		stream {
		    server {
		        listen 127.0.0.1:$2 backlog=4096;
		        $body
		    }
		}
	EOF
}

xinetd_conf() { # FILE PORT KIND
	local svc user=root stype=stream proto=tcp wait=no
	[ "$IS_ROOT" = 1 ] || user=$(id -un)
	case $3 in
	udp-echo) svc="type = INTERNAL UNLISTED
	id = echo-dgram" stype=dgram proto=udp wait=yes ;;
	tftp) # in.tftpd as xinetd.d/tftp files run it; it chroots, then becomes user tftp
		svc="type = UNLISTED
	server = $TFTPD
	server_args = -s $TFTP_DIR" stype=dgram proto=udp wait=yes ;;
	daytime) svc="type = INTERNAL UNLISTED
	id = daytime-stream" ;;
	echo) svc="type = INTERNAL UNLISTED
	id = echo-stream" ;;
	exec | exec-tiny)
		exec_prog "$3"
		svc="type = UNLISTED
	server = ${PROG[0]}"
		# xinetd drops a service whose server_args is empty
		[ ${#PROG[@]} -gt 1 ] && svc="$svc
	server_args = ${PROG[*]:1}"
		[ "$IS_ROOT" = 1 ] && user=nobody
		;;
	esac
	local name=$3
	[ "$3" = udp-echo ] && name="echo" # xinetd finds an INTERNAL service by name and type
	[ "$3" = tftp ] && name=benchtftp
	[ "$3" = exec ] && name=benchdate
	[ "$3" = exec-tiny ] && name=benchtiny
	cat >"$1" <<-EOF
		# xinetd benchmark configuration (generated by tests/bench/run.sh)
		defaults
		{
		    instances = UNLIMITED
		    per_source = UNLIMITED
		    cps = 1000000 1
		    log_type = FILE $TMP/xinetd-service.log
		    log_on_success =
		    log_on_failure =
		}
		service $name
		{
		    $svc
		    socket_type = $stype
		    protocol = $proto
		    wait = $wait
		    user = $user
		    bind = 127.0.0.1
		    port = $2
		    flags = REUSE
		}
	EOF
}

# Start SERVER for KIND (daytime | exec | exec-tiny | echo) on PORT; sets SPID (and BACKEND_PID for
# nginx echo, which proxies to an ssref echo: nginx stream cannot echo by itself).
start_server() {
	local server=$1 kind=$2 port=$3 tag="$1-$2" bport
	BACKEND_PID=""
	case $server in
	ssref | ssref-udp) launch "$LOGS/$tag.log" "$SSREF" --port "$port" --mode "$kind" ;;
	nginx)
		if [ "$kind" = echo ]; then
			bport=$("$SSBENCH" --mode free-port)
			launch "$LOGS/$tag-backend.log" "$SSREF" --port "$bport" --mode echo
			BACKEND_PID=$SPID
			"$SSBENCH" --mode wait --probe echo --port "$bport" --duration 10 || return 1
		fi
		nginx_conf "$TMP/nginx.conf" "$port" "$kind" "${bport:-}"
		launch "$LOGS/$tag.log" nginx -e stderr -p "$TMP" -c "$TMP/nginx.conf"
		;;
	xinetd | xinetd-udp | tftp-xinetd)
		xinetd_conf "$TMP/xinetd.conf" "$port" "$kind"
		launch "$LOGS/$tag.log" xinetd -dontfork -pidfile "$TMP/xinetd.pid" -f "$TMP/xinetd.conf"
		;;
	tcpserver)
		local ids=()
		[ "$IS_ROOT" = 1 ] && ids=(-u "$(id -u nobody)" -g "$(id -g nobody)")
		exec_prog "$kind"
		launch "$LOGS/$tag.log" tcpserver -q -H -R -l 0 -c 1024 -b 1024 "${ids[@]}" \
			127.0.0.1 "$port" "${PROG[@]}"
		;;
	fork | fork-acc | prefork | threadpool | event)
		ss_yaml "$TMP/ss.yaml" "$port" "$kind" "$(ss_mpm "$server")"
		launch "$LOGS/$tag.log" "$SSD" -c "$TMP/ss.yaml"
		;;
	event-udp | tftp-wait)
		dg_yaml "$TMP/ss.yaml" "$port" "$kind" "${DG_FORM[$server]}"
		launch "$LOGS/$tag.log" "$SSD" -c "$TMP/ss.yaml"
		;;
	*:none | *:limits)
		tag="${server%%:*}-$kind-${server#*:}"
		rm -f "$CTL_SOCK"
		ss_yaml "$TMP/ss.yaml" "$port" "$kind" "$(ss_mpm "${server%%:*}")" "${server#*:}" \
			"$CTL_SOCK"
		launch "$LOGS/$tag.log" "$SSD" -c "$TMP/ss.yaml"
		;;
	esac
	local probe=read
	[ "$kind" = echo ] && probe=echo
	[ "$kind" = udp-echo ] && probe=udp-echo
	if [ "$kind" = tftp ]; then # nothing to probe without a transfer: the port is bound
		"$SSBENCH" --mode wait --probe udp-bound --port "$port" --duration 10 || return 1
		settle "$SPID"
		return 0
	fi
	"$SSBENCH" --mode wait --probe "$probe" --port "$port" --duration 10 || return 1
	settle "$SPID"
	case $server in
	*:limits)
		# The access list is applied: a client from the denied address gets nothing.
		DENIED_OK=0
		"$SSBENCH" --mode wait --probe "$probe" --port "$port" --source "$DENIED_SOURCE" \
			--duration 0.2 >/dev/null 2>&1 || DENIED_OK=1
		;;
	esac
	return 0
}

# REJECTED ACCESS: the service's rejection counters, from superctl (empty without it).
ctl_rejections() {
	local out
	REJECTED="" ACCESS=""
	[ -n "$SUPERCTL" ] && [ -x "$SUPERCTL" ] || return 0
	out=$("$SUPERCTL" --socket "$CTL_SOCK" --json --timeout 5 stats bench 2>>"$LOGS/superctl.log") ||
		return 0
	if command -v jq >/dev/null; then
		REJECTED=$(jq -r '.services[0].rejected // empty' <<<"$out")
		ACCESS=$(jq -r '.services[0].rejected_by_reason.access // empty' <<<"$out")
		jq -c '.services[0] | {accepted, rejected, rejected_by_reason}' <<<"$out" \
			>>"$LOGS/superctl.log" 2>&1
	else
		out=$(tr -d ' \n' <<<"$out")
		REJECTED=$(grep -o '"rejected":[0-9]*' <<<"$out" | head -1 | cut -d: -f2)
		ACCESS=$(grep -o '"access":[0-9]*' <<<"$out" | head -1 | cut -d: -f2)
		printf '%s\n' "$out" >>"$LOGS/superctl.log"
	fi
}

stop_server() {
	stop_pid "$SPID"
	[ -n "$BACKEND_PID" ] && stop_pid "$BACKEND_PID"
	BACKEND_PID=""
}

# ---------------------------------------------------------------- rows
declare -A NOTE RATES P50S P99S CPUS ERRS LOST CORRUPT PSS HELD CRASH FRG REJ REJ_UNKNOWN PROOF
ROWS=()
LROWS=() # the limits part's rows
FOREIGN="" # per measurement: % of one core used by other processes

add_row() { # LOAD SERVER
	local k="$1|$2" r
	if [[ $2 == *:* ]]; then
		for r in "${LROWS[@]}"; do [ "$r" = "$k" ] && return; done
		LROWS+=("$k")
		return
	fi
	for r in "${ROWS[@]}"; do [ "$r" = "$k" ] && return; done
	ROWS+=("$k")
}

# One measurement of LOAD (daytime | exec | exec-tiny | exec-c1 | exec-tiny-c1 | echo-new |
# echo-persist) against SERVER.
measure() {
	local load=$1 server=$2 k="$1|$2" kind mode port line rc before after ops busy0 busy1
	local conc=$CONC
	add_row "$load" "$server"
	[ -n "${NOTE[$k]:-}" ] && return
	unavailable "$server"
	if [ -n "$WHY" ]; then
		NOTE[$k]=$WHY
		return
	fi
	local size="--size 64"
	case $load in
	daytime) kind=daytime mode=connect-read size="" ;;
	exec | exec-tiny) kind=$load mode=connect-read size="" ;;
	exec-c1 | exec-tiny-c1) kind=${load%-c1} mode=connect-read size="" conc=1 ;;
	echo-new) kind=echo mode=echo-new ;;
	echo-persist) kind=echo mode=echo-persist ;;
	udp-echo) kind=udp-echo mode=udp-echo conc=$DG_CONC size="--size $DG_SIZE --window $DG_WINDOW" ;;
	esac
	port=$("$SSBENCH" --mode free-port)
	if ! start_server "$server" "$kind" "$port"; then
		NOTE[$k]="FAILED (no answer, see logs/$server-$kind.log)"
		stop_server
		return
	fi
	local rej0="" acc0=""
	if [[ $server == *:* ]]; then
		ctl_rejections
		rej0=$REJECTED acc0=$ACCESS
		# The denied probe must have been refused, and counted as refused by the list.
		if [[ $server == *:limits ]]; then
			[ "$DENIED_OK" = 1 ] && [ "${acc0:-1}" != 0 ] ||
				PROOF[$k]="the denied address $DENIED_SOURCE was served"
		fi
	fi
	local src=()
	# xinetd falls to ~30 conn/s from any client address but 127.0.0.1 (seen here,
	# echo-new; presumably a name lookup per client): it gets one address, which caps
	# nothing at its rate (a few thousand a second).
	if [ -n "$SOURCES" ] && [ "${server%-udp}" != xinetd ]; then
		src=(--source "$SOURCES")
	fi
	before=$(cpu_ticks "$SPID")
	busy0=$(busy_ticks)
	line=$("$SSBENCH" --mode "$mode" --port "$port" --duration "$DURATION" \
		--concurrency "$conc" $size "${src[@]}" 2>>"$LOGS/ssbench.log")
	rc=$?
	busy1=$(busy_ticks)
	after=$(cpu_ticks "$SPID")
	if [[ $server == *:* ]]; then
		ctl_rejections
		if [ -n "$rej0" ] && [ -n "$REJECTED" ]; then
			REJ[$k]=$((${REJ[$k]:-0} + REJECTED - rej0))
		else
			REJ_UNKNOWN[$k]=1
		fi
	fi
	stop_server
	CRASH[$k]=$((${CRASH[$k]:-0} + $(crashes)))
	ops=$(kv ops "$line")
	if [ $rc = 1 ] || [ -z "$ops" ]; then
		NOTE[$k]="FAILED (ssbench rc $rc)"
		return
	fi
	RATES[$k]+=" $(kv ops_s "$line")"
	P50S[$k]+=" $(kv p50_us "$line")"
	P99S[$k]+=" $(kv p99_us "$line")"
	ERRS[$k]=$((${ERRS[$k]:-0} + $(kv errors "$line")))
	LOST[$k]=$((${LOST[$k]:-0} + $(kv lost_bytes "$line")))
	CORRUPT[$k]=$((${CORRUPT[$k]:-0} + $(kv corrupt_bytes "$line")))
	# CPU used by processes other than the server and ssbench: a disturbed measurement.
	local foreign
	foreign=$(awk -v b=$((busy1 - busy0)) -v s=$((after - before)) -v hz="$CLK_TCK" \
		-v c="$(kv cpu_s "$line")" -v d="$(kv duration_s "$line")" \
		'BEGIN { f = (b - s) / hz - c; if (f < 0) f = 0; printf "%.0f", (d > 0 ? 100 * f / d : 0) }')
	FOREIGN+=" $foreign"
	echo "$load $server $line foreign_pct=$foreign" >>"$LOGS/ssbench.log"
	FRG[$k]+=" $foreign"
	if [ "$ops" -gt 0 ]; then
		CLIENT_CPU[$k]+=" $(awk -v c="$(kv cpu_s "$line")" -v n="$ops" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
		CPUS[$k]+=" $(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$ops" \
			'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
	fi
}

# Idle connections: PSS of the server's processes before and while N are held.
measure_hold() {
	local server=$1 k="hold|$1" n=$HOLD_N port base after line i lim
	add_row hold "$server"
	unavailable "$server"
	if [ -n "$WHY" ]; then
		NOTE[$k]=$WHY
		return
	fi
	[ "$server" = fork ] && n=$HOLD_N_FORK
	lim=$(($(ulimit -Hn) - 200))
	[ "$server" = nginx ] && lim=$((lim / 2)) # a proxied connection is two descriptors
	[ "$n" -gt "$lim" ] && n=$lim
	port=$("$SSBENCH" --mode free-port)
	if ! start_server "$server" echo "$port"; then
		NOTE[$k]="FAILED (no answer, see logs/$server-echo.log)"
		stop_server
		return
	fi
	base=$(pss_kib "$SPID")
	rm -f "$TMP/hold.out" "$TMP/hold.err"
	: >"$TMP/hold.err"
	"$SSBENCH" --mode hold --port "$port" --connections "$n" --concurrency "$CONC" \
		--duration 120 >"$TMP/hold.out" 2>"$TMP/hold.err" &
	HOLD_PID=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q 'ssbench: ready' "$TMP/hold.err" && break
		alive "$HOLD_PID" || break
		sleep 0.1
	done
	if grep -q 'ssbench: ready' "$TMP/hold.err"; then
		after=$(pss_kib "$SPID")
		PSS[$k]=$(awk -v a="$after" -v b="$base" -v n="$n" 'BEGIN { v = (a - b) / n; if (v > -0.005 && v < 0.005) v = 0; printf "%.2f", v }')
	fi
	stop_pid "$HOLD_PID"
	HOLD_PID=""
	line=$(cat "$TMP/hold.out")
	cat "$TMP/hold.err" >>"$LOGS/ssbench.log"
	echo "hold $server $line" >>"$LOGS/ssbench.log"
	stop_server
	CRASH[$k]=$(crashes)
	HELD[$k]=$n
	ERRS[$k]=$(kv errors "$line")
	LOST[$k]=$(kv lost_bytes "$line")
	CORRUPT[$k]=$(kv corrupt_bytes "$line")
	[ -n "${PSS[$k]:-}" ] || NOTE[$k]="FAILED (not all $n connections held, see logs/ssbench.log)"
}

# ---------------------------------------------------------------- report
LOAD_NAME() {
	case $1 in
	daytime) echo "daytime (built-in)" ;;
	exec) echo "daytime (exec date)" ;;
	exec-tiny) echo "daytime (exec tiny)" ;;
	exec-c1) echo "exec date, c=1" ;;
	exec-tiny-c1) echo "exec tiny, c=1" ;;
	echo-new) echo "echo-new 64 B" ;;
	echo-persist) echo "echo-persist 64 B" ;;
	udp-echo) echo "UDP echo $DG_SIZE B" ;;
	hold) echo "hold idle echo" ;;
	esac
}

value() { # KIND KEY: the median of a row's measurements, or empty
	local v
	case $1 in
	rate) v=${RATES[$2]:-} ;;
	p50) v=${P50S[$2]:-} ;;
	p99) v=${P99S[$2]:-} ;;
	cpu) v=${CPUS[$2]:-} ;;
	esac
	[ -n "${v// /}" ] && median $v
}

print_table() {
	local r load server k fmt rate errs
	fmt='%-24s %-20s %12s %9s %9s %10s %12s %12s\n'
	printf "$fmt" "server/model" "load" "conn|req/s" "p50 us" "p99 us" "errors" "CPU us/conn" \
		"PSS KiB/idle"
	printf "$fmt" "------------" "----" "----------" "------" "------" "------" "-----------" \
		"------------"
	for r in "${ROWS[@]}"; do
		load=${r%%|*} server=${r#*|} k=$r
		if [ -n "${NOTE[$k]:-}" ]; then
			printf '%-24s %-20s %s\n' "${DISPLAY[$server]}" "$(LOAD_NAME "$load")" "${NOTE[$k]}"
			continue
		fi
		errs=${ERRS[$k]:-0}
		if [ "${LOST[$k]:-0}" != 0 ] || [ "${CORRUPT[$k]:-0}" != 0 ]; then
			errs="$errs!"
			DATA_ERRORS+=("${DISPLAY[$server]} $(LOAD_NAME "$load"): ${LOST[$k]:-0} bytes lost, ${CORRUPT[$k]:-0} bytes corrupted")
		fi
		if [ "${CRASH[$k]:-0}" != 0 ]; then
			errs="$errs C"
			DATA_ERRORS+=("${DISPLAY[$server]} $(LOAD_NAME "$load"): the server log reports ${CRASH[$k]} crash(es), see logs/")
		fi
		if [ "$load" = hold ]; then
			printf "$fmt" "${DISPLAY[$server]}" "hold idle, N=${HELD[$k]}" "-" "-" "-" "$errs" "-" \
				"${PSS[$k]}"
			continue
		fi
		rate=$(printf '%.0f' "$(value rate "$k")")
		# '~': other processes used more than 10% of a core during most rounds of this row
		[ -n "${FRG[$k]:-}" ] && [ "$(median ${FRG[$k]})" -gt 10 ] && rate="~$rate"
		printf "$fmt" "${DISPLAY[$server]}" "$(LOAD_NAME "$load")" "$rate" \
			"$(value p50 "$k")" "$(value p99 "$k")" "$errs" "$(value cpu "$k")" "-"
	done
}

goal() { # TEXT A B OP LIMIT: checks A/B (or A alone when B is "-") against LIMIT
	local text=$1 a=$2 b=$3 op=$4 lim=$5
	if [ -z "$a" ] || [ -z "$b" ]; then
		printf '  %-52s %9s  %s\n' "$text" "" "n/a"
		return
	fi
	awk -v a="$a" -v b="$b" -v op="$op" -v lim="$lim" -v t="$text" 'BEGIN {
		if (b == "-") { v = a; unit = "" } else if (b + 0 == 0) { v = -1 } else { v = a / b; unit = "x" }
		if (v < 0) { printf "  %-52s %9s  n/a\n", t, ""; exit }
		ok = (op == ">=") ? v >= lim : v <= lim
		printf "  %-52s %8.3f%s  %s\n", t, v, unit, ok ? "ok" : "MISSED" }'
}

print_goals() {
	echo "Goals (same run; medians of $ROUNDS rounds):"
	goal "event daytime conn/s >= 0.95x ssref" "$(value rate 'daytime|event')" \
		"$(value rate 'daytime|ssref')" ">=" 0.95
	goal "event daytime CPU/conn <= 1.2x ssref" "$(value cpu 'daytime|event')" \
		"$(value cpu 'daytime|ssref')" "<=" 1.2
	goal "event echo-persist req/s >= 0.9x ssref" "$(value rate 'echo-persist|event')" \
		"$(value rate 'echo-persist|ssref')" ">=" 0.9
	goal "event idle PSS <= 4 KiB/conn" "${PSS['hold|event']:-}" - "<=" 4
	goal "prefork daytime conn/s >= 0.8x ssref" "$(value rate 'daytime|prefork')" \
		"$(value rate 'daytime|ssref')" ">=" 0.8
	goal "prefork echo-new conn/s >= 5x xinetd echo" "$(value rate 'echo-new|prefork')" \
		"$(value rate 'echo-new|xinetd')" ">=" 5
	goal "threadpool echo-persist req/s >= 0.7x ssref" "$(value rate 'echo-persist|threadpool')" \
		"$(value rate 'echo-persist|ssref')" ">=" 0.7
	goal "fork builtin echo-new conn/s >= 1.5x xinetd echo" "$(value rate 'echo-new|fork')" \
		"$(value rate 'echo-new|xinetd')" ">=" 1.5
	print_exec_goals
}

# fork+exec (issue 12 item 8): the acceptors spawn in parallel. "no loss at c=1": one
# connection at a time is not slower than the other exec servers.
print_exec_goals() {
	local p
	for p in exec exec-tiny; do
		goal "fork+exec $p conn/s >= 1.3x tcpserver" "$(value rate "$p|fork-acc")" \
			"$(value rate "$p|tcpserver")" ">=" 1.3
		goal "fork+exec $p conn/s >= 1.5x xinetd exec" "$(value rate "$p|fork-acc")" \
			"$(value rate "$p|xinetd")" ">=" 1.5
		goal "fork+exec $p c=1 conn/s >= 1x tcpserver" "$(value rate "$p-c1|fork-acc")" \
			"$(value rate "$p-c1|tcpserver")" ">=" 1
		goal "fork+exec $p c=1 conn/s >= 1x xinetd exec" "$(value rate "$p-c1|fork-acc")" \
			"$(value rate "$p-c1|xinetd")" ">=" 1
		goal "fork+exec $p c=1 conn/s >= 0.95x one acceptor" "$(value rate "$p-c1|fork-acc")" \
			"$(value rate "$p-c1|fork")" ">=" 0.95
		goal "fork+exec $p CPU/conn <= 1x tcpserver" "$(value cpu "$p|fork-acc")" \
			"$(value cpu "$p|tcpserver")" "<=" 1
	done
}

# ---------------------------------------------------------------- the limits part
LIMIT_LOADS="daytime echo-new"
LIMIT_MODELS="event prefork"

# Every (model, load) pair runs LIMITS_ROUNDS times as none then limits, or limits then none
# (alternately): drift on a busy machine then falls on both sides alike.
run_limits() {
	local round load model first second
	for ((round = 1; round <= LIMITS_ROUNDS; round++)); do
		for load in $LIMIT_LOADS; do
			for model in $LIMIT_MODELS; do
				wanted "$model" || continue
				first=none second=limits
				[ $((round % 2)) = 0 ] && first=limits second=none
				[ -n "${NOTE[$load|$model:none]:-}" ] && [ -n "${NOTE[$load|$model:limits]:-}" ] &&
					continue
				log "limits: $load: $model $first, $second (round $round/$LIMITS_ROUNDS)"
				measure "$load" "$model:$first"
				measure "$load" "$model:$second"
			done
		done
	done
}

pair_ratios() { # KEY_LIMITS KEY_NONE: the median, lowest and highest per-round conn/s ratio
	local -a a b
	read -r -a a <<<"${RATES[$1]:-}"
	read -r -a b <<<"${RATES[$2]:-}"
	[ ${#a[@]} -gt 0 ] && [ ${#a[@]} = ${#b[@]} ] || return 0
	local i
	for ((i = 0; i < ${#a[@]}; i++)); do
		awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { if (y > 0) printf "%.3f\n", x / y }'
	done | sort -g | awk '{ v[NR] = $1 }
		END { if (NR) printf "median %s, %s..%s", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

print_limits() {
	local r load server k rate errs rej fmt
	fmt='%-24s %-20s %-7s %12s %9s %9s %7s %9s %12s\n'
	echo "Limits (issue 6 item 9): each service without limits ('none') and with an allow/deny list,"
	echo "per_source, rate and per_source_rate ('limits'), in the same run; median of $LIMITS_ROUNDS rounds,"
	echo "each round runs the pair in turn, in alternating order; clients from ${SOURCES:-127.0.0.1}. The limits:"
	printf '    %s\n' "${LIMITS_KEYS[@]}"
	printf "$fmt" "server/model" "load" "limits" "conn/s" "p50 us" "p99 us" "errors" "rejected" \
		"CPU us/conn"
	printf "$fmt" "------------" "----" "------" "------" "------" "------" "------" "--------" \
		"-----------"
	for r in "${LROWS[@]}"; do
		load=${r%%|*} server=${r#*|} k=$r
		if [ -n "${NOTE[$k]:-}" ]; then
			printf '%-24s %-20s %-7s %s\n' "${DISPLAY[$server]}" "$(LOAD_NAME "$load")" \
				"${server#*:}" "${NOTE[$k]}"
			continue
		fi
		errs=${ERRS[$k]:-0}
		if [ "${LOST[$k]:-0}" != 0 ] || [ "${CORRUPT[$k]:-0}" != 0 ]; then
			errs="$errs!"
			DATA_ERRORS+=("${DISPLAY[$server]} $(LOAD_NAME "$load") ${server#*:}: ${LOST[$k]:-0} bytes lost, ${CORRUPT[$k]:-0} bytes corrupted")
		fi
		if [ "${CRASH[$k]:-0}" != 0 ]; then
			errs="$errs C"
			DATA_ERRORS+=("${DISPLAY[$server]} $(LOAD_NAME "$load") ${server#*:}: the server log reports ${CRASH[$k]} crash(es), see logs/")
		fi
		[ -n "${PROOF[$k]:-}" ] &&
			DATA_ERRORS+=("${DISPLAY[$server]} $(LOAD_NAME "$load") limits: ${PROOF[$k]}: the access list is not applied")
		rej=${REJ[$k]:-?}
		[ -n "${REJ_UNKNOWN[$k]:-}" ] && rej="?"
		rate=$(printf '%.0f' "$(value rate "$k")")
		[ -n "${FRG[$k]:-}" ] && [ "$(median ${FRG[$k]})" -gt 10 ] && rate="~$rate"
		printf "$fmt" "${DISPLAY[$server]}" "$(LOAD_NAME "$load")" "${server#*:}" "$rate" \
			"$(value p50 "$k")" "$(value p99 "$k")" "$errs" "$rej" "$(value cpu "$k")"
	done
	echo
	echo "Goals (limits / none, same run: the ratio of the medians; pairs: the conn/s ratio of each round's pair)"
	local model kl kn ok add
	for model in $LIMIT_MODELS; do
		for load in $LIMIT_LOADS; do
			kl="$load|$model:limits" kn="$load|$model:none"
			add=$(pair_ratios "$kl" "$kn")
			printf '%s' "$(goal "$model $load conn/s with limits >= 0.95x without" \
				"$(value rate "$kl")" "$(value rate "$kn")" ">=" 0.95)"
			[ -n "$add" ] && printf '  (pairs: %s)' "$add"
			printf '\n'
			awk -v a="$(value cpu "$kl")" -v b="$(value cpu "$kn")" \
				-v t="$model $load CPU/conn with limits / without" 'BEGIN {
				if (a == "" || b + 0 == 0) printf "  %-52s %9s  n/a\n", t, ""
				else printf "  %-52s %8.3fx  (no goal)\n", t, a / b }'
			# Nothing refused: the service's counters, and ssbench saw every answer.
			if [ -n "${NOTE[$kl]:-}" ] || [ -z "${RATES[$kl]:-}" ]; then
				ok="n/a"
			elif [ -n "${PROOF[$kl]:-}" ]; then
				ok="MISSED (the access list was not applied)"
			elif [ -n "${REJ_UNKNOWN[$kl]:-}" ] || [ -z "${REJ[$kl]:-}" ]; then
				ok="$([ "${ERRS[$kl]:-0}" = 0 ] && echo ok || echo MISSED) (ssbench errors only: no superctl)"
			elif [ "${REJ[$kl]}" = 0 ] && [ "${ERRS[$kl]:-0}" = 0 ]; then
				ok=ok
			else
				ok=MISSED
			fi
			printf '  %-52s %9s  %s\n' "$model $load: rejected with limits = 0" \
				"${REJ[$kl]:-?}" "$ok"
		done
	done
}

chart() {
	command -v gnuplot >/dev/null || {
		log "gnuplot not installed: no chart"
		return
	}
	local dat="$TMP/chart.dat" s l v
	for s in ssref nginx xinetd tcpserver fork prefork threadpool event; do
		printf '"%s"' "${DISPLAY[$s]/superserverd/ss}"
		for l in daytime exec echo-new echo-persist; do
			v=$(value rate "$l|$s")
			printf ' %s' "${v:-?}"
		done
		printf '\n'
	done >"$dat"
	gnuplot >"$LOGS/gnuplot.log" 2>&1 <<-EOF
		set terminal pngcairo size 1280,640 font ",10"
		set output "$RESULTS/chart.png"
		set title "superserverd benchmark: 2 cores, loopback, load generator on the same machine"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set datafile missing "?"
		set logscale y
		set yrange [100:*]
		set ylabel "connections (or requests) per second, log scale"
		set grid ytics
		set xtics nomirror
		set xlabel "ss = superserverd model"
		set key top right
		plot "$dat" using 2:xtic(1) title "daytime built-in", \
		     "" using 3 title "daytime exec'd date", \
		     "" using 4 title "echo-new 64 B", \
		     "" using 5 title "echo-persist 64 B"
	EOF
}

# ---------------------------------------------------------------- main
mkdir -p "$LOGS"
if [ "$PART" = limits ] || [ "$PART" = exec ]; then # keep the logs of the last full run
	rm -f "$LOGS"/*-none.log "$LOGS"/*-limits.log "$LOGS"/superctl.log "$LOGS"/*-exec*.log
elif [ "$PART" = dgram ]; then
	rm -f "$LOGS"/*udp*.log "$LOGS"/*tftp*.log
else
	rm -f "$LOGS"/*.log
fi
build
build_superctl
[ "$PART" = limits ] || install_tools
ulimit -n "$(ulimit -Hn)" 2>/dev/null
TMP=$(mktemp -d /tmp/ssbench.XXXXXX)
chmod 755 "$TMP"
if [ -x "$SSDAYTIME" ] && cp "$SSDAYTIME" "$TMP/ssdaytime"; then
	TINY_PROG=("$TMP/ssdaytime")
else
	TINY_PROG=(/nonexistent/ssdaytime) # its rows fail, and say so
fi
CTL_SOCK=$TMP/control.sock # the limits part's daemons: never the system's control socket
if [ "$PART" = dgram ]; then
	run_dgram
	exit 0
fi
START=$(date +%s)
OUT=$RESULTS/latest.txt
[ "$PART" = limits ] && OUT=$RESULTS/limits.txt
[ "$PART" = exec ] && OUT=$RESULTS/exec.txt

declare -A LOAD_SERVERS=(
	[daytime]="ssref nginx xinetd fork prefork threadpool event"
	[exec]="tcpserver xinetd fork fork-acc"
	[exec-tiny]="tcpserver xinetd fork fork-acc"
	[exec-c1]="tcpserver xinetd fork fork-acc"
	[exec-tiny-c1]="tcpserver xinetd fork fork-acc"
	[echo-new]="ssref xinetd fork prefork threadpool event"
	[echo-persist]="ssref fork prefork threadpool event")
LOADS="daytime exec exec-tiny echo-new echo-persist"
[ "$PART" = exec ] && LOADS="exec exec-tiny exec-c1 exec-tiny-c1"
[ "$PART" = limits ] || for load in $LOADS; do
	for ((round = 1; round <= ROUNDS; round++)); do
		for server in ${LOAD_SERVERS[$load]}; do
			wanted "$server" || continue
			log "$load: $server (round $round/$ROUNDS)"
			measure "$load" "$server"
		done
	done
done
[ "$PART" = limits ] || [ "$PART" = exec ] || for server in nginx ssref event fork; do
	wanted "$server" || continue
	log "hold: $server"
	measure_hold "$server"
done
[ "$PART" = models ] || [ "$PART" = exec ] || run_limits

DATA_ERRORS=()
{
	echo "superserverd benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- superserverd mpm services 2>/dev/null || echo ' + uncommitted changes')"
	echo "machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r); everything on 127.0.0.1, load generator on the same machine"
	case $PART in
	all) echo "ssbench: 1 thread, $CONC connections in flight, ${DURATION}s per measurement, median of $ROUNDS interleaved rounds ($LIMITS_ROUNDS for limits)" ;;
	models) echo "ssbench: 1 thread, $CONC connections in flight, ${DURATION}s per measurement, median of $ROUNDS interleaved rounds" ;;
	limits) echo "ssbench: 1 thread, $CONC connections in flight, ${DURATION}s per measurement, median of $LIMITS_ROUNDS rounds" ;;
	exec) echo "ssbench: 1 thread, $CONC connections in flight (c=1 rows: 1), ${DURATION}s per measurement, median of $ROUNDS interleaved rounds" ;;
	esac
	echo "exec'd programs: date = ${EXEC_PROG[*]}; tiny = ssdaytime ($(file -b "$SSDAYTIME" 2>/dev/null | cut -d, -f1-5))"
	echo "models: fork $(ss_mpm fork); fork-acc $(ss_mpm fork-acc); prefork $(ss_mpm prefork); threadpool $(ss_mpm threadpool); event $(ss_mpm event)"
	echo "clients connect from ${SOURCES:-127.0.0.1} in turn (xinetd: from 127.0.0.1 only, see run.sh)"
	echo
	if [ "$PART" = exec ]; then
		print_table
		echo
		echo "Goals (same run; medians of $ROUNDS rounds):"
		print_exec_goals
		echo
	elif [ "$PART" != limits ]; then
		print_table
		echo
		print_goals
		echo
	fi
	if [ "$PART" != models ] && [ "$PART" != exec ]; then
		print_limits
		echo
	fi
	echo "Notes:"
	echo "  CPU us/conn: utime+stime (+ reaped children) of the server's whole process tree / ops; softirq time is not included."
	if [ "$PART" != limits ] && [ "$PART" != exec ]; then
		echo "  PSS KiB/idle: (sum of Pss over the server's processes while N idle connections are held - before) / N; user space only."
		echo "  nginx stream cannot echo: its hold row proxies to an ssref echo and counts nginx's processes only."
	fi
	echo "  errors: connect errors + short reads + wrong bytes + timeouts (+ dropped idle connections); '!' = bytes lost or corrupted, 'C' = the server's log reports crashes."
	[ "$PART" != models ] && [ "$PART" != exec ] && echo "  rejected: connections the service turned away during the measurement (superctl stats: max_connections, per_source, rate, access, proxy); before each limits measurement a client from $DENIED_SOURCE (denied) is refused, to show the list is applied."
	[ -n "$FOREIGN" ] && echo "  other processes' CPU during the measurements (% of one core): median $(median $FOREIGN), max $(printf '%s\n' $FOREIGN | sort -g | tail -1); '~' marks rows where it was above 10 in most rounds (disturbed: run again)"
	for e in "${DATA_ERRORS[@]}"; do echo "  PROBLEM: $e"; done
	echo "  elapsed: $(($(date +%s) - START)) s"
} | tee "$OUT"
if [ "$PART" != limits ] && [ "$PART" != exec ]; then
	chart
	[ -f "$RESULTS/chart.png" ] && log "chart: $RESULTS/chart.png"
fi
log "results: $OUT"
[ "$PART" = all ] && run_dgram
exit 0
