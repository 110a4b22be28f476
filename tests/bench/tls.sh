#!/usr/bin/env bash
# The TLS part of the benchmark (issue 15 item 7): `run.sh tls`. Every TLS terminator in
# front of an echo on 127.0.0.1, with one ECDSA P-256 certificate made here by `openssl`,
# measured in the same run, interleaved round by round (the order rotates each round):
#   ss-event       superserverd, builtin echo, event model, workers: 1
#   ss-event2      the same with workers: 2
#   ss-threadpool  builtin echo, threadpool, processes 1, threads 8
#   ss-fork-cat    exec /bin/cat under fork (the issue's fork + exec goal)
#   nginx1/nginx2  nginx stream `listen ... ssl`, worker_processes 1 / 2, proxy_pass to an
#                  ssref echo: nginx's stream module cannot echo by itself, so its rows pay a
#                  plaintext hop to the backend (the backend's CPU is not counted)
#   stunnel        stunnel4 in front of the same ssref echo (one thread per connection)
#   stunnel-cat    stunnel4 exec'ing /bin/cat per connection (inetd-like)
# A superserverd row whose configuration superserverd refuses (a build where no model
# serves TLS yet) is printed n/a with its first error line.
# Two loads, each round against one start of the server, by ssbench --tls (TLS 1.3 only,
# no session resumption: a full handshake per connection; certificate not verified;
# BENCH_TLS_CLIENT_THREADS (2) threads, clients bound in turn to BENCH_SOURCES):
#   handshakes/s  echo-new: connect, handshake, 64 bytes echoed, close_notify, close;
#                 BENCH_CONCURRENCY (64) in flight; p50/p99 of the whole connection
#   bulk MiB/s    echo-persist: BENCH_TLS_BULK_CONNS (8) persistent connections, each
#                 echoing BENCH_TLS_BULK_KIB (64) KiB at a time, every byte checked; MiB/s
#                 counts the bytes echoed (each crosses the terminator both ways)
# TCP_NODELAY everywhere (ssbench, superserverd's `nodelay: true`, nginx's default, stunnel's
# socket options, ssref --nodelay): with Nagle, a 64 KiB echo's last small segment waits
# for a delayed ACK (40 ms) and the bulk load would measure that.
# For each, the terminator's CPU (user+system of its whole process tree, reaped children
# included, from /proc before and after the load) per handshake and per MiB: the figure to
# trust on a busy machine (the client shares the cores). Medians of BENCH_ROUNDS (3) rounds
# of BENCH_DURATION (3) s, with the issue's goals (event >= 1.0x nginx on handshakes/s and
# >= 0.9x on bulk; fork+exec >= 1.2x stunnel exec'ing the same program), to
# tests/bench/results/tls.txt; every measurement to results/logs/tls-runs.log. Every wait
# is bounded. BENCH_SSD, BENCH_TOOLS (the directory of ssbench and ssref) measure an
# existing build; BENCH_TLS_ONLY=a,b runs some rows; BENCH_NO_INSTALL=1 never calls apt-get
# (otherwise nginx, its stream module and stunnel4 are installed when missing).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build-bench
RESULTS=$ROOT/tests/bench/results
LOGS=$RESULTS/logs
SSD=${BENCH_SSD:-$BUILD/superserverd}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-3}
CONC=${BENCH_CONCURRENCY:-64}
THREADS=${BENCH_TLS_CLIENT_THREADS:-2}
BULK_CONNS=${BENCH_TLS_BULK_CONNS:-8}
BULK_KIB=${BENCH_TLS_BULK_KIB:-64}
SOURCES=${BENCH_SOURCES:-127.0.0.1,127.0.0.3,127.0.0.4,127.0.0.5}
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
TMP=$(mktemp -d /tmp/ssbench-tls.XXXXXX)
HZ=$(getconf CLK_TCK)
PIDS=()

# PID: SIGTERM, up to 5 s, then SIGKILL. It leaves PIDS, so that cleanup never signals its
# number again once another process may have it.
stop_pid() {
	local i p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$LOGS"
: >"$LOGS/tls-runs.log"
log() { echo "$*" >>"$LOGS/tls-runs.log"; }
if [ -z "${BENCH_SSD:-}" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$LOGS/tls-build.log" 2>&1 &&
		cmake --build "$BUILD" -j2 --target superserverd ssbench ssref >>"$LOGS/tls-build.log" 2>&1 || {
		echo "build failed: see $LOGS/tls-build.log" >&2
		exit 1
	}
fi
SSBENCH=${BENCH_TOOLS:-$BUILD/tests/bench}/ssbench
SSREF=${BENCH_TOOLS:-$BUILD/tests/bench}/ssref

missing=()
command -v nginx >/dev/null || missing+=(nginx-core)
[ -e "$NGINX_STREAM_MODULE" ] || missing+=(libnginx-mod-stream)
command -v stunnel4 >/dev/null || missing+=(stunnel4)
if [ ${#missing[@]} -gt 0 ] && [ -z "${BENCH_NO_INSTALL:-}" ] && [ "$(id -u)" = 0 ]; then
	guard=0 # packages must not start their own daemons (nginx would take port 80)
	[ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d &&
		chmod 755 /usr/sbin/policy-rc.d && guard=1; }
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >"$LOGS/tls-apt.log" 2>&1 || echo "cannot install ${missing[*]}: see $LOGS/tls-apt.log" >&2
	[ "$guard" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$LOGS/tls-openssl.log" 2>&1 || {
	echo "openssl could not make the certificate: see $LOGS/tls-openssl.log" >&2
	exit 1
}

# free_port, wait_port, cpu_ticks, median
# shellcheck source=proc_cpu.sh
. "$ROOT/tests/bench/proc_cpu.sh"

ss_yaml() { # FILE NAME PORT
	local mpm handler="builtin: echo"
	case $2 in
	ss-event) mpm="{model: event, workers: 1}" ;;
	ss-event2) mpm="{model: event, workers: 2}" ;;
	ss-threadpool) mpm="{model: threadpool, processes: 1, threads: 8}" ;;
	ss-fork-cat) mpm="{model: fork, max_children: 1024}" handler="exec: [/bin/cat]" ;;
	esac
	cat >"$1" <<-YAML
		# superserverd benchmark configuration (generated by tests/bench/tls.sh)
		log: {level: warning}
		control: {socket: $TMP/ctl-$3.sock}
		defaults: {user: nobody, shutdown_timeout: 1s}
		services:
		  echo:
		    listen: [{address: '127.0.0.1:$3', nodelay: true, tls: {certificate: $TMP/cert.pem, key: $TMP/key.pem}}]
		    $handler
		    mpm: $mpm
		    limits: {max_connections: 100000, idle_timeout: 60s}
	YAML
}

declare -A WHY
check_row() { # NAME: sets WHY[NAME] when the row cannot run
	local out
	case $1 in
	ss-*)
		[ -x "$SSD" ] || { WHY[$1]="superserverd not built"; return; }
		ss_yaml "$TMP/check.yaml" "$1" 1
		out=$(timeout 30 "$SSD" --check-config -c "$TMP/check.yaml" 2>&1) ||
			WHY[$1]="superserverd refuses the configuration: $(grep -v warning: <<<"$out" | grep -m1 . | sed "s|$TMP/||")"
		;;
	nginx*)
		command -v nginx >/dev/null && [ -e "$NGINX_STREAM_MODULE" ] ||
			WHY[$1]="nginx or its stream module not installed"
		;;
	stunnel*) command -v stunnel4 >/dev/null || WHY[$1]="stunnel4 not installed" ;;
	esac
}

start_backend() { # -> BPORT, BPID: a fresh ssref echo for nginx and stunnel
	BPORT=$(free_port)
	"$SSREF" --port "$BPORT" --mode echo --nodelay >>"$LOGS/tls-ssref.log" 2>&1 &
	BPID=$!
	PIDS+=("$BPID")
	wait_port "$BPORT"
}

start_server() { # NAME PORT -> SPID (BPID too, or "")
	local name=$1 port=$2
	BPID=""
	case $name in
	ss-*)
		ss_yaml "$TMP/ss.yaml" "$name" "$port"
		"$SSD" -c "$TMP/ss.yaml" >>"$LOGS/tls-ssd.log" 2>&1 &
		;;
	nginx*)
		start_backend
		cat >"$TMP/nginx.conf" <<-EOF
			# nginx benchmark configuration (generated by tests/bench/tls.sh)
			load_module $NGINX_STREAM_MODULE;
			daemon off;
			master_process on;
			worker_processes ${name#nginx};
			worker_rlimit_nofile 65536;
			pid $TMP/nginx.pid;
			error_log stderr warn;
			events { worker_connections 16384; }
			stream {
			    server {
			        listen 127.0.0.1:$port ssl backlog=4096;
			        ssl_certificate $TMP/cert.pem;
			        ssl_certificate_key $TMP/key.pem;
			        ssl_protocols TLSv1.3;
			        proxy_pass 127.0.0.1:$BPORT;
			        proxy_timeout 10m;
			    }
			}
		EOF
		nginx -e stderr -p "$TMP" -c "$TMP/nginx.conf" >>"$LOGS/tls-nginx.log" 2>&1 &
		;;
	stunnel*)
		local target="connect = 127.0.0.1:"
		if [ "$name" = stunnel-cat ]; then
			target="exec = /bin/cat
execArgs = cat"
		else
			start_backend
			target+=$BPORT
		fi
		cat >"$TMP/stunnel.conf" <<-EOF
			; stunnel benchmark configuration (generated by tests/bench/tls.sh)
			foreground = yes
			pid = $TMP/stunnel.pid
			debug = 3
			[echo]
			accept = 127.0.0.1:$port
			$target
			cert = $TMP/cert.pem
			key = $TMP/key.pem
			sslVersionMin = TLSv1.3
			socket = l:TCP_NODELAY=1
			socket = r:TCP_NODELAY=1
		EOF
		stunnel4 "$TMP/stunnel.conf" >>"$LOGS/tls-stunnel.log" 2>&1 &
		;;
	esac
	SPID=$!
	PIDS+=("$SPID")
	wait_port "$port"
}

measure() { # NAME LOAD PORT: one ssbench run; appends to the row's figures
	local name=$1 load=$2 port=$3 args c0 c1 out ops rate p50 p99 errs per
	if [ "$load" = hs ]; then
		args=(--mode echo-new --concurrency "$CONC" --threads "$THREADS")
	else
		args=(--mode echo-persist --concurrency "$BULK_CONNS" --size $((BULK_KIB * 1024)) --threads "$THREADS")
	fi
	c0=$(cpu_ticks "$SPID")
	out=$(timeout $((DURATION + 30)) "$SSBENCH" --tls --port "$port" --source "$SOURCES" \
		--duration "$DURATION" "${args[@]}" 2>&1)
	c1=$(cpu_ticks "$SPID")
	log "$name $load: cpu_ticks=$((c1 - c0)) $out"
	kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $out" | tail -1; }
	ops=$(kv ops) rate=$(kv ops_s) p50=$(kv p50_us) p99=$(kv p99_us) errs=$(kv errors)
	[ -n "$ops" ] || { ops=0 rate=0 p50=0 p99=0 errs=1; }
	ERRS[$name]=$((${ERRS[$name]:-0} + errs))
	if [ "$load" = hs ]; then
		per=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$ops" 'BEGIN { printf "%.0f", (n ? t / hz * 1e6 / n : 0) }')
		HS[$name]+="$rate " P50[$name]+="$p50 " P99[$name]+="$p99 " CPH[$name]+="$per "
	else
		local mib
		mib=$(awk -v n="$ops" -v k="$BULK_KIB" 'BEGIN { printf "%.3f", n * k / 1024 }')
		per=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v m="$mib" 'BEGIN { printf "%.0f", (m > 0 ? t / hz * 1e6 / m : 0) }')
		MBS[$name]+="$(awk -v r="$rate" -v k="$BULK_KIB" 'BEGIN { printf "%.1f", r * k / 1024 }') "
		CPM[$name]+="$per "
	fi
}

declare -A HS P50 P99 CPH MBS CPM ERRS
NAMES=(ss-event ss-event2 ss-threadpool ss-fork-cat nginx1 nginx2 stunnel stunnel-cat)
[ -n "${BENCH_TLS_ONLY:-}" ] && IFS=, read -r -a NAMES <<<"$BENCH_TLS_ONLY"
RUN=()
for name in "${NAMES[@]}"; do
	check_row "$name"
	[ -z "${WHY[$name]:-}" ] && RUN+=("$name")
done
for round in $(seq "$ROUNDS"); do
	for i in "${!RUN[@]}"; do
		name=${RUN[$(((i + round - 1) % ${#RUN[@]}))]}
		port=$(free_port)
		if ! start_server "$name" "$port"; then
			log "round $round $name: did not start listening within 10 s"
			ERRS[$name]=$((${ERRS[$name]:-0} + 1))
		else
			measure "$name" hs "$port"
			measure "$name" bulk "$port"
		fi
		stop_pid "$SPID"
		[ -n "$BPID" ] && stop_pid "$BPID"
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else printf "n/a" }'; }
{
	echo "tls part: $ROUNDS interleaved rounds of ${DURATION}s ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "handshakes: TLS 1.3, ECDSA P-256, no resumption, a new connection per 64-byte echo, $CONC in flight ($THREADS client threads)"
	echo "bulk: $BULK_CONNS persistent connections echoing ${BULK_KIB} KiB at a time; MiB/s of bytes echoed"
	echo "medians; CPU = the terminator's user+system time (whole process tree; not nginx's and stunnel's ssref backend)"
	printf '%-14s %9s %8s %8s %11s %9s %11s %6s\n' server "hs/s" "p50 us" "p99 us" "CPU us/hs" "MiB/s" "CPU us/MiB" errors
	for name in "${NAMES[@]}"; do
		if [ -n "${WHY[$name]:-}" ]; then
			printf '%-14s n/a: %s\n' "$name" "${WHY[$name]}"
			continue
		fi
		printf '%-14s %9s %8s %8s %11s %9s %11s %6s\n' "$name" "$(median <<<"${HS[$name]:-}")" \
			"$(median <<<"${P50[$name]:-}")" "$(median <<<"${P99[$name]:-}")" \
			"$(median <<<"${CPH[$name]:-}")" "$(median <<<"${MBS[$name]:-}")" \
			"$(median <<<"${CPM[$name]:-}")" "${ERRS[$name]:-0}"
	done
	m() { median <<<"${1:-}"; }
	echo "goal hs/s    ss-event/nginx1 $(ratio "$(m "${HS[ss-event]:-}")" "$(m "${HS[nginx1]:-}")") (>= 1.0)   ss-event/stunnel $(ratio "$(m "${HS[ss-event]:-}")" "$(m "${HS[stunnel]:-}")")"
	echo "goal MiB/s   ss-event/nginx1 $(ratio "$(m "${MBS[ss-event]:-}")" "$(m "${MBS[nginx1]:-}")") (>= 0.9)   ss-event/stunnel $(ratio "$(m "${MBS[ss-event]:-}")" "$(m "${MBS[stunnel]:-}")")"
	echo "goal hs/s    ss-fork-cat/stunnel-cat $(ratio "$(m "${HS[ss-fork-cat]:-}")" "$(m "${HS[stunnel-cat]:-}")") (>= 1.2, fork + exec)"
	echo "CPU us/hs    nginx1/ss-event $(ratio "$(m "${CPH[nginx1]:-}")" "$(m "${CPH[ss-event]:-}")")   stunnel/ss-event $(ratio "$(m "${CPH[stunnel]:-}")" "$(m "${CPH[ss-event]:-}")") (above 1: superserverd spends less)"
} | tee "$RESULTS/tls.txt"
