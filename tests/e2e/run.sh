#!/bin/bash
# End-to-end test of the Debian package against a real systemd (252, Debian 12).
#
# Builds the .deb from this tree, boots Debian bookworm's systemd as PID 1 of a
# throw-away container (tests/e2e/container.sh: a debootstrap'd minbase root, cached,
# booted with systemd-nspawn --volatile=overlay so that nothing is kept), installs the
# package with apt-get and checks, each with a bounded wait:
#   nosystemd  first, in the same root not booted (no systemd running, as in a chroot):
#            the package installs (users created, nothing else) and purges
#   install  the package installs offline; nothing enabled or started; users, /run dir
#   default  the shipped configuration starts and serves echo (7) and daytime (13)
#   a        socket activation: the first connection to superserverd.socket (named
#            socket "echo") starts superserverd, which serves it through systemd:echo
#   b        Type=notify: "systemctl start" returns when ready; reload applies a new
#            service; a bad file is refused by "systemctl reload" and by SIGHUP, the
#            old configuration keeps serving, FILE:LINE:COL in the journal and STATUS=
#   c        an exec'd program's stderr reaches the journal with SERVICE= and PROGRAM_PID=
#   d        superctl over the control socket in RuntimeDirectory= (root; a member of
#            the "superserverd" group may read, not change; others are refused)
#   f        systemd-analyze security: the exposure score (printed, not judged)
#   g        "systemctl restart" while clients connect in loops to the socket-activated
#            echo and to an echo superserverd bound itself (kept in the fd store):
#            no connection refused or lost; a UDP echo keeps its very socket (the same
#            inode) through the fd store and answers after the restarts
#   h        "superctl upgrade" (re-exec with the sockets) under the same loops:
#            nothing refused or lost, systemd's MainPID follows the new process, which
#            then reloads; the UDP echo's socket is handed over too
#   e        watchdog: with WatchdogSec=8s the daemon is left alone while it runs and
#            restarted (new MainPID) once it is SIGSTOPped
#   upgrade  dpkg -i over the installed package: a running superserverd is restarted,
#            the modified conffile kept, nothing enabled
#   purge    apt-get purge leaves no file of the package behind
#
# Exit 0 pass, 1 fail, 77 skip (not root, no systemd-nspawn/debootstrap, a sanitizer
# build). Environment: SS_SOURCE_DIR, SS_BUILD_DIR (set by CTest); SS_E2E_CACHE (the
# root cache, /var/cache/superserverd-e2e), SS_E2E_MIRROR (debootstrap's mirror),
# SS_E2E_KEEP_LOGS=1 (keep $SS_BUILD_DIR/e2e/logs even on success; they are always
# kept on failure), SS_E2E_DEB=FILE (test this package instead of building one).

set -u

src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SS_BUILD_DIR:-$src/build}
here=$src/tests/e2e

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "the e2e test needs root (systemd-nspawn, debootstrap, nsenter)"
for tool in systemd-nspawn nsenter timeout flock sha256sum ps cmake cpack dpkg-deb; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip "$tool not found (apt-get install systemd-container debootstrap util-linux procps cmake dpkg)"
done
[ "$(uname -s)" = Linux ] || skip "Linux only"
if [ -f "$build/CMakeCache.txt" ] && grep -q '^SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
	skip "runs in the normal build only (the package is built without sanitizers, once)"
fi

# shellcheck source=tests/e2e/container.sh
. "$here/container.sh"

ct_root_ensure_possible() {
	local key
	key=$(printf '%s\n' "$CT_SUITE" minbase "$CT_PACKAGES" v1 | sha256sum | cut -c1-12)
	[ -f "$CT_CACHE/$CT_SUITE-$key/.ss-e2e-root" ] || command -v debootstrap >/dev/null 2>&1
}
ct_root_ensure_possible ||
	skip "no cached container root in $CT_CACHE and debootstrap not found (apt-get install debootstrap)"

work=$build/e2e
logs=$work/logs
rm -rf "$logs" "$work/pkg"
mkdir -p "$logs" "$work/pkg" || exit 1
CT_LOG=$logs/nspawn.log

t_start=$(ct_now)
passed=0
failed=0
skipped=0
cur=
cur_failed=0
cur_t0=0
failures=()

begin() {
	cur=$1
	cur_failed=0
	cur_t0=$(ct_now)
	echo "== [$cur] $2"
}
bad() {
	echo "FAIL [$cur]: $*"
	cur_failed=1
}
note() {
	echo "   [$cur] $*"
}
end() {
	local took
	took=$(ct_secs "$cur_t0" "$(ct_now)")
	if [ "$cur_failed" = 0 ]; then
		echo "ok [$cur] ($took s)"
		passed=$((passed + 1))
	else
		echo "FAILED [$cur] ($took s)"
		if [ -n "$CT_LEADER" ]; then
			echo "   last journal lines of superserverd:"
			ct -t 10 journalctl -u superserverd --no-pager -n 25 -o short-monotonic 2>&1 | sed 's/^/    /'
		fi
		failed=$((failed + 1))
		failures+=("$cur")
	fi
}

interrupted=
finish() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$interrupted" ]; then
		ct_poweroff now
	else
		if [ -n "$CT_LEADER" ] && ct_alive; then
			ct -t 20 journalctl -b --no-pager -o short-monotonic >"$logs/journal.txt" 2>&1
		fi
		ct_poweroff
	fi
	# Nothing of ours may be left running.
	local p
	for p in "${loop_pid:-}" "${loop2_pid:-}"; do
		if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
	exit "$rc"
}
trap finish EXIT
trap 'interrupted=1; echo "e2e: interrupted"; exit 1' INT TERM

# Runs a command in the container, prints its output indented.
show() {
	ct "$@" 2>&1 | sed 's/^/      /'
	return "${PIPESTATUS[0]}"
}
prop() { # prop UNIT PROPERTY
	ct -t 10 systemctl show -p "$2" --value "$1" 2>/dev/null
}
client() { # client PORT [TEXT]: the first line the service sends back
	ct -t 12 bash /srv/e2e/files/client.sh "$@" 2>/dev/null
}
put_config() {
	ct install -m 0644 "/srv/e2e/files/$1" /etc/superserverd/superserverd.yaml
}
# until_ok SECS CMD...: runs CMD every 0.1 s until it succeeds; 1 after SECS.
until_ok() {
	local deadline=$(($(ct_now) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(ct_now)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}
answers() { # answers PORT TEXT: the echo service on PORT echoes TEXT
	[ "$(client "$1" "$2")" = "$2" ]
}
# udp_answers PORT TEXT: the UDP echo on PORT echoes TEXT (three tries: a datagram may be lost).
udp_answers() {
	local i
	for i in 1 2 3; do
		[ "$(ct -t 12 bash /srv/e2e/files/udp_client.sh "$1" "$2" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}
# udp_inode PORT: the inode of the UDP socket bound to 127.0.0.1:PORT (/proc/net/udp), or nothing.
udp_inode() {
	ct awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a { print $10 }' /proc/net/udp 2>/dev/null
}
# The owners of the container's superserverd processes, one line each (no procps there).
procs_users() {
	ct sh -c 'for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = superserverd ] && stat -c %U "$p" 2>/dev/null
	done'
}
# systemd allows 5 starts in 10 s (StartLimitBurst=, StartLimitIntervalSec=); the checks
# start superserverd more often than that, so each begins with a clean count. (When the
# limit is hit, superserverd.socket fails too and connections are refused.)
fresh_limits() {
	ct systemctl reset-failed superserverd.service superserverd.socket 2>/dev/null
}
active_is() {
	[ "$(prop superserverd.service ActiveState)" = "$1" ]
}

# --- the package ----------------------------------------------------------------------
if [ -n "${SS_E2E_DEB:-}" ]; then
	begin build "use the given package SS_E2E_DEB=$SS_E2E_DEB"
	deb=$SS_E2E_DEB
	[ -f "$deb" ] || {
		bad "no such file: $deb"
		end
		exit 1
	}
else
	begin build "build the .deb (cpack -G DEB, prefix /usr, in $work/pkg-build)"
	pkgbuild=$work/pkg-build
	if ! timeout -k 10 600 cmake -S "$src" -B "$pkgbuild" -DCMAKE_INSTALL_PREFIX=/usr \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
			>"$logs/pkg-configure.log" 2>&1; then
		bad "cmake configure failed (see $logs/pkg-configure.log)"
		tail -n 20 "$logs/pkg-configure.log"
		end
		exit 1
	fi
	rm -f "$pkgbuild"/superserverd_*.deb
	if ! timeout -k 10 900 cmake --build "$pkgbuild" --target package-deb -j"$(nproc)" \
			>"$logs/pkg-build.log" 2>&1; then
		bad "building the package failed (see $logs/pkg-build.log)"
		grep -E -m 10 'error|Error' "$logs/pkg-build.log"
		end
		exit 1
	fi
	deb=$(find "$pkgbuild" -maxdepth 1 -name 'superserverd_*.deb' | head -n 1)
	if [ -z "$deb" ]; then
		bad "no superserverd_*.deb in $pkgbuild"
		end
		exit 1
	fi
fi
debname=$(basename "$deb")
cp "$deb" "$work/pkg/" || exit 1
note "$debname ($(stat -c %s "$deb") bytes), Depends: $(dpkg-deb -f "$deb" Depends)"
end

# --- the container --------------------------------------------------------------------
begin root "the container root (debootstrap --variant=minbase $CT_SUITE, cached in $CT_CACHE)"
ct_root_ensure || {
	bad "no container root"
	end
	exit 1
}
end

# --- without systemd running (chroot-like) ------------------------------------------------
begin nosystemd "install and purge in the root without booting it (no systemd running, as in a chroot)"
CT_LOG=$logs/nosystemd.log
t0=$(ct_now)
if ct_run_plain 120 --setenv=DEBIAN_FRONTEND=noninteractive \
		--bind-ro="$work/pkg:/srv/e2e/pkg" --bind-ro="$here:/srv/e2e/files" -- \
		/bin/bash /srv/e2e/files/nosystemd.sh "/srv/e2e/pkg/$debname"; then
	note "$(grep -a '^nosystemd:' "$CT_LOG")"
else
	bad "install/purge without systemd failed; the end of $CT_LOG:"
	tail -n 15 "$CT_LOG" | sed 's/^/      /'
fi
note "took $(ct_secs "$t0" "$(ct_now)") s"
end

begin boot "boot Debian $CT_SUITE's systemd in a container"
CT_LOG=$logs/nspawn.log
t0=$(ct_now)
if ! ct_boot --bind-ro="$work/pkg:/srv/e2e/pkg" --bind-ro="$here:/srv/e2e/files"; then
	bad "the container did not boot"
	end
	exit 1
fi
note "systemd $(ct systemctl --version | head -n 1 | cut -d' ' -f2-3) up in $(ct_secs "$t0" "$(ct_now)") s (leader pid $CT_LEADER)"
end

# --- install --------------------------------------------------------------------------
begin install "apt-get install ./$debname (offline: the container has no network)"
t0=$(ct_now)
if ! ct -t 180 apt-get install -y --no-install-recommends "/srv/e2e/pkg/$debname" >"$logs/apt-install.log" 2>&1; then
	bad "apt-get install failed:"
	tail -n 20 "$logs/apt-install.log" | sed 's/^/      /'
	end
	exit 1
fi
note "installed in $(ct_secs "$t0" "$(ct_now)") s"
[ "$(ct dpkg-query -W -f='${Status}' superserverd)" = "install ok installed" ] || bad "dpkg does not list superserverd as installed"
st=$(ct systemctl is-enabled superserverd.service 2>&1)
[ "$st" = disabled ] || bad "superserverd.service is '$st' after install, expected disabled (the package enables nothing)"
st=$(ct systemctl is-enabled superserverd.socket 2>&1)
[ "$st" = disabled ] || bad "superserverd.socket is '$st' after install, expected disabled"
active_is inactive || bad "superserverd.service is $(prop superserverd.service ActiveState) after install, expected inactive (the package starts nothing)"
[ "$(prop superserverd.service FragmentPath)" = /lib/systemd/system/superserverd.service ] ||
	bad "unit not loaded from /lib/systemd/system (FragmentPath=$(prop superserverd.service FragmentPath))"
ct getent group superserverd >/dev/null || bad "postinst did not create the group superserverd"
ct getent passwd _superserverd >/dev/null || bad "postinst did not create the user _superserverd"
ct test -d /run/superserverd || bad "postinst did not create /run/superserverd (systemd-tmpfiles)"
ct test -d /etc/superserverd/conf.d || bad "no /etc/superserverd/conf.d"
ct grep -qx /etc/superserverd/superserverd.yaml /var/lib/dpkg/info/superserverd.conffiles ||
	bad "/etc/superserverd/superserverd.yaml is not a conffile"
[ "$(ct ls -l /usr/sbin/superserverd 2>/dev/null | cut -c1-10)" = -rwxr-xr-x ] || bad "no /usr/sbin/superserverd"
ct test -x /usr/bin/superctl || note "no /usr/bin/superctl in the package"
end

# --- the shipped configuration ----------------------------------------------------------
begin default "the shipped configuration: echo on 127.0.0.1:7, daytime on 127.0.0.1:13"
out=$(ct superserverd --check-config 2>&1) || bad "superserverd --check-config rejects the shipped file: $out"
if ! ct -t 40 systemctl start superserverd; then
	bad "systemctl start superserverd failed with the shipped configuration"
	show systemctl status --no-pager superserverd
else
	answers 7 hello-default || bad "echo on 127.0.0.1:7 did not answer"
	line=$(client 13)
	[ -n "$line" ] || bad "daytime on 127.0.0.1:13 did not answer"
	note "daytime: $line"
	note "status: $(prop superserverd.service StatusText)"
	users=$(procs_users | sort | uniq -c | tr -s ' \n' ' ')
	note "superserverd processes per user:$users"
	[[ "$users" == *_superserverd* ]] || bad "no service process runs as _superserverd"
fi
ct -t 40 systemctl stop superserverd || bad "systemctl stop failed"
end

# --- (a) socket activation ---------------------------------------------------------------
begin a "socket activation: superserverd.socket (127.0.0.1:7007, FileDescriptorName=echo) starts superserverd"
put_config e2e-base.yaml || bad "cannot install e2e-base.yaml"
ct -t 30 systemctl enable --now superserverd.socket >/dev/null 2>&1 || bad "systemctl enable --now superserverd.socket failed"
[ "$(prop superserverd.socket ActiveState)" = active ] || bad "superserverd.socket is not active"
active_is inactive || bad "superserverd.service is $(prop superserverd.service ActiveState) before the first connection, expected inactive"
t0=$(ct_now)
reply=$(client 7007 first-connection)
if [ "$reply" != first-connection ]; then
	bad "the first connection to 127.0.0.1:7007 got '$reply', expected its echo"
else
	note "first connection answered in $(ct_secs "$t0" "$(ct_now)") s (includes starting superserverd)"
fi
until_ok 10 active_is active || bad "superserverd.service is $(prop superserverd.service ActiveState) after the connection, expected active"
ct journalctl -u superserverd --no-pager -o cat | grep -qi "inherited" ||
	note "(no 'inherited ... sockets' line in the journal)"
end

# --- (b) Type=notify, reload ---------------------------------------------------------------
begin b "Type=notify readiness, reload, reload with a broken file"
fresh_limits
[ "$(prop superserverd.service Type)" = notify ] || bad "Type is $(prop superserverd.service Type), expected notify"
# start returns when ready: the socket superserverd binds itself (daytime, 7013) must
# answer at the first attempt right after "systemctl start" returns, three times.
for round in 1 2 3; do
	ct -t 40 systemctl stop superserverd.service 2>/dev/null
	active_is inactive || bad "round $round: not stopped"
	t0=$(ct_now)
	if ! ct -t 40 systemctl start superserverd.service; then
		bad "round $round: systemctl start failed"
		continue
	fi
	t1=$(ct_now)
	line=$(client 7013)
	if [ -z "$line" ]; then
		bad "round $round: daytime (127.0.0.1:7013) did not answer right after systemctl start returned"
	fi
	note "round $round: systemctl start took $(ct_secs "$t0" "$t1") s, then daytime answered '$line'"
done
status=$(prop superserverd.service StatusText)
[ -n "$status" ] || bad "no STATUS= text after start"
note "STATUS=$status"

# A reload that adds a service.
put_config e2e-reload.yaml
t0=$(ct_now)
if ! ct -t 30 systemctl reload superserverd; then
	bad "systemctl reload failed with a good file"
fi
if until_ok 10 answers 7008 after-reload; then
	note "the new service echo2 (7008) answered $(ct_secs "$t0" "$(ct_now)") s after systemctl reload began"
else
	bad "the service added by the reload (echo2, 127.0.0.1:7008) did not answer within 10 s"
fi
pid_before=$(prop superserverd.service MainPID)

# A reload with a broken file: ExecReload= checks the file, so systemctl reload fails.
put_config e2e-bad.yaml
errline=$(grep -n 'e2e-error-here' "$here/e2e-bad.yaml" | cut -d: -f1)
where="/etc/superserverd/superserverd.yaml:$errline:"
if ct -t 30 systemctl reload superserverd 2>"$logs/bad-reload.err"; then
	bad "systemctl reload succeeded with a broken file"
else
	note "systemctl reload with the broken file failed, as it should: $(head -n 1 "$logs/bad-reload.err")"
fi
unit_count() {
	ct journalctl -u superserverd --no-pager -o cat | grep -cF "$where"
}
if until_ok 5 eval '[ "$(unit_count)" -ge 1 ]'; then
	note "journal: $(ct journalctl -u superserverd --no-pager -o cat | grep -F "$where" | tail -n 1)"
elif ct journalctl -t superserverd --no-pager -o cat | grep -qF "$where"; then
	# journald learns a message's unit from the sender's cgroup; lines that arrive after
	# the sender exited (--check-config exits at once) can end up without _SYSTEMD_UNIT.
	note "the check's error is in the journal (journalctl -t superserverd) but journald did not attribute it to the unit (the process had already exited)"
else
	bad "the journal has no error naming $where from ExecReload=--check-config"
fi
n_before=$(unit_count)
active_is active || bad "superserverd is $(prop superserverd.service ActiveState) after the failed reload"
# The same file through SIGHUP (the daemon's own check): STATUS= must say so.
ct systemctl kill --kill-who=main --signal=HUP superserverd || bad "systemctl kill -s HUP failed"
if until_ok 10 eval '[[ "$(prop superserverd.service StatusText)" == *"$where"* ]]'; then
	note "STATUS=$(prop superserverd.service StatusText)"
else
	bad "STATUS= does not name $where after SIGHUP with the broken file: '$(prop superserverd.service StatusText)'"
fi
ct systemctl status --no-pager superserverd 2>&1 | grep -F "Status:" | grep -qF "$where" ||
	bad "systemctl status does not show the error in its Status: line"
until_ok 5 eval '[ "$(unit_count)" -gt "$n_before" ]' ||
	bad "journalctl -u superserverd has no error naming $where from the daemon after SIGHUP"
# The old configuration still serves, and the service of the broken file does not exist.
answers 7007 still-echo || bad "echo (7007) stopped answering after the broken reload"
answers 7008 still-echo2 || bad "echo2 (7008) stopped answering after the broken reload"
[ -n "$(client 7013)" ] || bad "daytime (7013) stopped answering after the broken reload"
if answers 7010 must-not; then bad "echo3 of the broken file answers"; fi
[ "$(prop superserverd.service MainPID)" = "$pid_before" ] || bad "MainPID changed during the broken reload"
# Back to the good file: the failure status goes away.
put_config e2e-reload.yaml
ct -t 30 systemctl reload superserverd || bad "systemctl reload with the good file again failed"
until_ok 10 eval '[[ "$(prop superserverd.service StatusText)" != *"$where"* ]]' ||
	bad "STATUS= still reports the old error after a good reload: $(prop superserverd.service StatusText)"
end

# --- (c) the journal ----------------------------------------------------------------------
begin c "an exec'd program's stderr in the journal with SERVICE= and PROGRAM_PID="
reply=$(client 7099)
[ "$reply" = ok ] || bad "the exec service (7099) answered '$reply', expected 'ok'"
json=
get_json() {
	json=$(ct journalctl -u superserverd --no-pager -o json | grep -F e2e-stderr-marker | tail -n 1)
	[ -n "$json" ]
}
if ! until_ok 10 get_json; then
	bad "the program's stderr line (e2e-stderr-marker) is not in the journal of superserverd.service"
else
	[[ "$json" =~ \"SERVICE\":\"stderr\" ]] || bad "no SERVICE=stderr on the line: $json"
	[[ "$json" =~ \"PROGRAM_PID\":\"[0-9]+\" ]] || bad "no PROGRAM_PID= on the line: $json"
	fields=$(printf '%s\n' "$json" | grep -oE '"(MESSAGE|SERVICE|PROGRAM_PID|PRIORITY|REMOTE_ADDR|_SYSTEMD_UNIT)":"[^"]*"' | tr '\n' ' ')
	note "$fields"
fi
end

# --- (d) superctl and the control socket ---------------------------------------------------
if ! ct test -x /usr/bin/superctl; then
	echo "== [d] SKIP: the package has no superctl"
	skipped=$((skipped + 1))
else
	begin d "superctl over the control socket in RuntimeDirectory= (/run/superserverd/control.sock)"
	ct test -S /run/superserverd/control.sock || bad "no /run/superserverd/control.sock"
	out=$(ct superctl status 2>&1)
	rc=$?
	if [ "$rc" != 0 ]; then
		bad "superctl status (root) exited $rc: $out"
	else
		for s in echo echo2 daytime stderr; do
			grep -qw "$s" <<<"$out" || bad "superctl status does not list $s"
		done
		printf '%s\n' "$out" | sed 's/^/      /'
	fi
	out=$(ct superctl --json status 2>&1) || bad "superctl --json status failed: $out"
	[[ "$out" =~ \"ok\":\ *true ]] || bad "superctl --json status: no \"ok\":true in $(head -c 300 <<<"$out")"
	# Access: a member of "superserverd" may read, not change; nobody may do neither.
	ct useradd --system --no-create-home --groups superserverd e2e-operator || bad "useradd failed"
	out=$(ct setpriv --reuid=e2e-operator --regid=e2e-operator --init-groups superctl status 2>&1) ||
		bad "superctl status as a member of the superserverd group failed: $out"
	out=$(ct setpriv --reuid=e2e-operator --regid=e2e-operator --init-groups superctl reload 2>&1) &&
		bad "superctl reload as a (non-admin) member of the superserverd group succeeded"
	note "operator's reload: $(head -n 1 <<<"$out")"
	out=$(ct setpriv --reuid=nobody --regid=nogroup --clear-groups superctl status 2>&1) &&
		bad "superctl status as nobody succeeded"
	note "nobody's status: $(head -n 1 <<<"$out")"
	end
fi

# --- (f) systemd-analyze security ------------------------------------------------------------
begin f "systemd-analyze security superserverd.service (information; target <= 3.0)"
ct -t 60 systemd-analyze security --no-pager superserverd.service >"$logs/security.txt" 2>&1 ||
	bad "systemd-analyze security failed: $(tail -n 3 "$logs/security.txt")"
score_line=$(grep -a "Overall exposure level" "$logs/security.txt")
score=$(grep -aoE 'exposure level for superserverd.service: [0-9.]+' "$logs/security.txt" | grep -oE '[0-9.]+$')
if [ -z "$score" ]; then
	bad "no exposure score in the output"
else
	note "$score_line"
	if awk -v s="$score" 'BEGIN { exit !(s > 3.0) }'; then
		note "above the 3.0 target; the largest contributions:"
	else
		note "within the 3.0 target; the largest remaining contributions:"
	fi
	grep -a '✗' "$logs/security.txt" | awk '{ print $NF "\t" $0 }' | sort -rn | head -n 8 | cut -f2- |
		sed 's/^/      /'
fi
end

# --- (g) restart under load ----------------------------------------------------------------------
# Two client loops: 7007 is superserverd.socket's (systemd holds it), 7008 a socket
# superserverd bound itself, which survives only through the fd store (FDSTORE=1).
begin g "systemctl restart while client loops connect to the socket-activated echo and to an echo superserverd bound itself (fd store)"
fresh_limits
pid0=$(prop superserverd.service MainPID)
answers 7008 before-restart || bad "echo2 (7008) does not answer before the restart"
udp_answers 7009 udp-before-restart || bad "udpecho (udp:7009) does not answer before the restart"
udp0=$(udp_inode 7009)
[ -n "$udp0" ] || bad "no UDP socket on 127.0.0.1:7009 in /proc/net/udp"
stored=$(prop superserverd.service NFileDescriptorStore)
note "NFileDescriptorStore=$stored before the restart"
[ -n "$stored" ] && [ "$stored" -ge 1 ] 2>/dev/null || bad "nothing in the fd store (NFileDescriptorStore=$stored)"
run_loops() { # run_loops ACTION...: both client loops while ACTION runs; checks the results
	# The loops run until told to stop, after the action (their time bound, 150 s, is
	# above any action's: two restarts of up to 40 s each); both must answer before it
	# starts and still run when it ends, or the action was not covered.
	local stop=/run/e2e-loops.stop
	ct rm -f "$stop"
	ct -t 150 bash /srv/e2e/files/loop.sh 7007 "$stop" 100000 >"$logs/loop7007.out" 2>&1 &
	loop_pid=$!
	ct -t 150 bash /srv/e2e/files/loop.sh 7008 "$stop" 100000 >"$logs/loop7008.out" 2>&1 &
	loop2_pid=$!
	until_ok 10 grep -q started "$logs/loop7007.out" &&
		until_ok 10 grep -q started "$logs/loop7008.out" ||
		bad "the client loops did not start"
	"$@"
	kill -0 "$loop_pid" 2>/dev/null && kill -0 "$loop2_pid" 2>/dev/null ||
		bad "a client loop ended before the action did: the action was not covered"
	ct touch "$stop" || bad "cannot tell the client loops to stop"
	local deadline=$(($(ct_now) + 60000)) p
	for p in "$loop_pid" "$loop2_pid"; do
		while kill -0 "$p" 2>/dev/null && [ "$(ct_now)" -lt "$deadline" ]; do
			sleep 0.2
		done
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null
			bad "a client loop did not end"
		fi
		wait "$p" 2>/dev/null
	done
	loop_pid= loop2_pid=
	local port res
	for port in 7007 7008; do
		res=$(tail -n 1 "$logs/loop$port.out")
		note "$port: $res"
		if [[ "$res" =~ attempts=([0-9]+)\ ok=([0-9]+)\ refused=([0-9]+)\ unanswered=([0-9]+)\ wrong=([0-9]+) ]]; then
			[ "${BASH_REMATCH[3]}" = 0 ] || bad "$port: ${BASH_REMATCH[3]} connection(s) refused"
			[ "${BASH_REMATCH[4]}" = 0 ] || bad "$port: ${BASH_REMATCH[4]} connection(s) not answered"
			[ "${BASH_REMATCH[5]}" = 0 ] || bad "$port: ${BASH_REMATCH[5]} connection(s) answered wrongly"
			[ "${BASH_REMATCH[2]}" -ge 20 ] || bad "$port: only ${BASH_REMATCH[2]} connections answered: the loop did not run"
		else
			bad "$port: the client loop printed no result: $(tail -n 3 "$logs/loop$port.out")"
		fi
	done
}
restarts=0
two_restarts() {
	local i t0
	for i in 1 2; do
		t0=$(ct_now)
		if ct -t 40 systemctl restart superserverd.service; then
			restarts=$((restarts + 1))
			note "restart $i took $(ct_secs "$t0" "$(ct_now)") s"
		else
			bad "systemctl restart $i failed"
		fi
		sleep 1.5
	done
}
run_loops two_restarts
pid1=$(prop superserverd.service MainPID)
[ "$restarts" = 2 ] && [ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] ||
	bad "MainPID $pid0 -> $pid1: superserverd was not restarted"
ct journalctl -u superserverd --no-pager -o cat _PID="$pid1" | grep -q "inherited [0-9]* sockets" ||
	bad "the restarted superserverd (pid $pid1) did not log inheriting its sockets"
udp_answers 7009 udp-after-restart || bad "udpecho (udp:7009) does not answer after the restarts"
udp1=$(udp_inode 7009)
[ -n "$udp0" ] && [ "$udp1" = "$udp0" ] ||
	bad "the UDP socket was not kept through the fd store (inode $udp0 -> $udp1)"
end

# --- (h) upgrade by re-exec under load -------------------------------------------------------------
begin h "superctl upgrade (re-exec, MAINPID handed over) while client loops connect"
fresh_limits
pid0=$(prop superserverd.service MainPID)
upgrade_out=
do_upgrade() {
	upgrade_out=$(ct -t 40 superctl upgrade 2>&1) || bad "superctl upgrade failed: $upgrade_out"
	note "$upgrade_out"
}
udp0=$(udp_inode 7009)
run_loops do_upgrade
pid1=$(prop superserverd.service MainPID)
[ "$pid1" != "$pid0" ] && [ "$pid1" != 0 ] || bad "MainPID $pid0 -> $pid1: systemd does not follow the new process"
[[ "$upgrade_out" == *"-> $pid1"* ]] || bad "superctl named another pid than systemd's MainPID $pid1"
active_is active || bad "superserverd.service is $(prop superserverd.service ActiveState) after the upgrade"
until_ok 20 ct sh -c "! kill -0 $pid0 2>/dev/null" || bad "the old process $pid0 did not exit"
# The new main process is systemd's to reload and to stop like any other.
ct -t 40 systemctl reload superserverd.service || bad "systemctl reload after the upgrade failed"
answers 7008 after-upgrade || bad "echo2 (7008) does not answer after the upgrade"
udp_answers 7009 udp-after-upgrade || bad "udpecho (udp:7009) does not answer after the upgrade"
udp1=$(udp_inode 7009)
[ -n "$udp0" ] && [ "$udp1" = "$udp0" ] ||
	bad "the UDP socket was not handed over by the upgrade (inode $udp0 -> $udp1)"
# Until it is the main process the new one must say nothing to systemd (it would be
# dropped: NotifyAccess=main), afterwards its sockets are in the store again.
dropped=$(ct journalctl -u superserverd --no-pager -o cat | grep -a "reception only permitted for main PID")
[ -z "$dropped" ] || bad "systemd dropped notifications: $(head -n 2 <<<"$dropped")"
stored=$(prop superserverd.service NFileDescriptorStore)
note "NFileDescriptorStore=$stored after the upgrade"
[ -n "$stored" ] && [ "$stored" -ge 1 ] 2>/dev/null || bad "nothing in the fd store after the upgrade"
ct journalctl -u superserverd --no-pager -o cat | grep -q "Supervising process $pid1 which is not our child" &&
	note "(systemd notes that pid $pid1 is not its child until the old process exits)"
end

# --- (e) watchdog ------------------------------------------------------------------------------
begin e "watchdog: WatchdogSec=8s; a SIGSTOPped superserverd is restarted"
fresh_limits
dropin=/etc/systemd/system/superserverd.service.d
ct mkdir -p "$dropin"
# LimitCORE=0: the watchdog's SIGABRT would otherwise leave a core file. 8 s: the daemon
# pings every half of it, so only a 4 s stall of a loaded machine would miss one (with
# 2 s, a 1 s stall did).
ct sh -c "printf '[Service]\nWatchdogSec=8s\nLimitCORE=0\n' >$dropin/e2e-watchdog.conf"
ct systemctl daemon-reload || bad "daemon-reload failed"
ct -t 40 systemctl restart superserverd.service || bad "restart with the drop-in failed"
[ "$(prop superserverd.service WatchdogUSec)" = 8s ] || bad "WatchdogUSec is $(prop superserverd.service WatchdogUSec), expected 8s"
pid0=$(prop superserverd.service MainPID)
nr0=$(prop superserverd.service NRestarts)
# It pings: left alone for two intervals, it is not restarted (one that did not ping
# would be by then). A window to measure over, not a wait for something to happen.
sleep 17
pid=$(prop superserverd.service MainPID)
[ "$pid" = "$pid0" ] || bad "superserverd was restarted while running normally (MainPID $pid0 -> $pid): it does not ping the watchdog"
ct sh -c "kill -STOP $pid0" || bad "kill -STOP $pid0 failed"
t0=$(ct_now)
restarted() {
	local p
	p=$(prop superserverd.service MainPID)
	[ "$p" != 0 ] && [ "$p" != "$pid0" ] && active_is active
}
if until_ok 60 restarted; then
	note "MainPID $pid0 -> $(prop superserverd.service MainPID) $(ct_secs "$t0" "$(ct_now)") s after SIGSTOP; NRestarts $nr0 -> $(prop superserverd.service NRestarts)"
	ct journalctl -u superserverd --no-pager -o cat | grep -qi "watchdog timeout" ||
		bad "no 'Watchdog timeout' in the journal"
	until_ok 10 answers 7007 after-watchdog || bad "echo (7007) does not answer after the watchdog restart"
	until_ok 10 answers 7008 after-watchdog || bad "echo2 (7008) does not answer after the watchdog restart"
else
	bad "superserverd was not restarted within 30 s of SIGSTOP (MainPID $(prop superserverd.service MainPID), $(prop superserverd.service ActiveState))"
	ct sh -c "kill -CONT $pid0" 2>/dev/null
fi
ct rm -rf "$dropin"
ct systemctl daemon-reload
end

# --- upgrade ----------------------------------------------------------------------------------
begin upgrade "dpkg -i of the package over itself (the upgrade path of the maintainer scripts)"
fresh_limits
ct -t 40 systemctl start superserverd.service || bad "systemctl start failed"
pid0=$(prop superserverd.service MainPID)
if ! ct -t 120 dpkg -i "/srv/e2e/pkg/$debname" </dev/null >"$logs/dpkg-upgrade.log" 2>&1; then
	bad "dpkg -i over the installed package failed:"
	tail -n 15 "$logs/dpkg-upgrade.log" | sed 's/^/      /'
fi
until_ok 10 eval '[ "$(prop superserverd.service MainPID)" != "$pid0" ] && active_is active' ||
	bad "a running superserverd was not restarted by the upgrade (MainPID $pid0 -> $(prop superserverd.service MainPID), $(prop superserverd.service ActiveState))"
ct grep -q echo2 /etc/superserverd/superserverd.yaml ||
	bad "the upgrade replaced the modified /etc/superserverd/superserverd.yaml"
st=$(ct systemctl is-enabled superserverd.service 2>&1)
[ "$st" = disabled ] || bad "superserverd.service is '$st' after the upgrade, expected still disabled"
until_ok 10 answers 7008 after-upgrade || bad "echo2 (7008) does not answer after the upgrade"
udp_answers 7009 udp-after-upgrade || bad "udpecho (udp:7009) does not answer after the upgrade"
udp1=$(udp_inode 7009)
[ -n "$udp0" ] && [ "$udp1" = "$udp0" ] ||
	bad "the UDP socket was not handed over by the upgrade (inode $udp0 -> $udp1)"
note "MainPID $pid0 -> $(prop superserverd.service MainPID); configuration kept; still disabled"
end

# --- purge ------------------------------------------------------------------------------------
begin purge "apt-get purge superserverd leaves no file of the package"
ct dpkg-query -L superserverd >"$logs/dpkg-L.txt" 2>&1 || bad "dpkg -L failed"
# Enabled (linked under /etc/systemd/system): purge must remove the links too.
ct systemctl enable superserverd.service >/dev/null 2>&1 || bad "systemctl enable failed"
active_is active || note "(superserverd not active before purge)"
t0=$(ct_now)
if ! ct -t 120 apt-get purge -y superserverd >"$logs/apt-purge.log" 2>&1; then
	bad "apt-get purge failed:"
	tail -n 20 "$logs/apt-purge.log" | sed 's/^/      /'
fi
note "purged in $(ct_secs "$t0" "$(ct_now)") s"
[ -n "$(procs_users)" ] && bad "a superserverd process is still running after purge"
[ "$(prop superserverd.service LoadState)" = not-found ] ||
	bad "superserverd.service is still known to systemd: LoadState=$(prop superserverd.service LoadState)"
[ "$(prop superserverd.socket ActiveState)" = active ] && bad "superserverd.socket still listens after purge"
ct dpkg-query -W superserverd >/dev/null 2>&1 && bad "dpkg still knows superserverd (status: $(ct dpkg-query -W -f='${Status}' superserverd))"
# Every file dpkg listed is gone (directories shared with other packages stay).
left=$(ct bash -c 'while IFS= read -r f; do
	if [ -d "$f" ]; then
		case "$f" in *superserverd*) echo "$f/" ;; esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		echo "$f"
	fi
done' <"$logs/dpkg-L.txt")
[ -z "$left" ] || bad "left after purge: $(echo "$left" | tr '\n' ' ')"
found=$(ct find / /run -xdev \( -path /proc -o -path /sys -o -path /srv/e2e \) -prune -o -name '*superserverd*' -print 2>/dev/null | sort -u)
[ -z "$found" ] || bad "files named *superserverd* after purge: $(echo "$found" | tr '\n' ' ')"
ct getent passwd _superserverd >/dev/null && note "kept by design: the user _superserverd and the group superserverd (see docs/packaging.md)"
end

# --- power off --------------------------------------------------------------------------------
ct -t 20 journalctl -b --no-pager -o short-monotonic >"$logs/journal.txt" 2>&1
t0=$(ct_now)
ct_poweroff
echo "== container powered off in $(ct_secs "$t0" "$(ct_now)") s"
leftover=$(ps -eo pid=,args= | grep -F -e "--machine=ss-e2e-$$ " | grep -v -e grep)
[ -z "$leftover" ] || {
	echo "FAIL: still running: $leftover"
	failed=$((failed + 1))
}

echo "== e2e total $(ct_secs "$t_start" "$(ct_now)") s"
echo "e2e: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" != 0 ]; then
	echo "failed: ${failures[*]}; logs in $logs"
	exit 1
fi
[ "${SS_E2E_KEEP_LOGS:-0}" = 1 ] || rm -rf "$logs"
echo PASS
exit 0
