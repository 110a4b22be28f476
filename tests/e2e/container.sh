# shellcheck shell=bash
# A throw-away Debian 12 container with systemd as PID 1, for tests/e2e/run.sh.
# Sourced; needs root, debootstrap (for the first run), systemd-nspawn (package
# systemd-container), nsenter (util-linux), timeout, flock, sha256sum.
#
#   ct_root_ensure          debootstrap a minbase root once; cached in $CT_CACHE, keyed
#                           by a hash of the suite and package list; sets CT_ROOT
#   ct_boot NSPAWN-ARGS...  boot it (systemd-nspawn --boot --volatile=overlay: every
#                           change goes to a tmpfs and is gone at power-off) in the
#                           background; wait until systemd is up; sets CT_LEADER
#   ct [-t SECS] CMD...     run CMD inside (all namespaces of the container's PID 1),
#                           bounded by SECS (default 30)
#   ct_poweroff             power off, bounded; then SIGTERM/SIGKILL by pid; cleans up
#                           the cgroup and nspawn's leftovers. Safe to call twice.
#   ct_run_plain SECS ARGS -- CMD...
#                           run CMD in the root without booting it (no systemd
#                           running, as in a chroot), bounded
#
# Where the host's PID 1 is not systemd (a VM or container without it), nspawn cannot
# ask for a scope unit: it runs with --keep-unit --register=no in a cgroup made for it
# here (in every mounted hierarchy), so that its "payload" and "supervisor" cgroups are
# its own and are removed afterwards.

CT_SUITE=bookworm
CT_MIRROR=${SS_E2E_MIRROR:-http://deb.debian.org/debian}
CT_CACHE=${SS_E2E_CACHE:-/var/cache/superserverd-e2e}
# What the root needs: systemd as init, dbus (logind, systemctl's bus), and the
# libraries superserverd and superctl link, so that "apt-get install ./x.deb" needs no
# network (the container has none); procps for /bin/kill (the unit's ExecReload=).
CT_PACKAGES=systemd,systemd-sysv,dbus,libyaml-0-2,libcap2,libjansson4,libsystemd0,procps
CT_ROOT=
CT_NAME=
CT_NSPAWN_PID=
CT_LEADER=
CT_CGROUPS=()
CT_LOG=
CT_EXIT_STATUS=

ct_now() { # milliseconds since the epoch
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# Seconds (with milliseconds) between two ct_now values.
ct_secs() {
	local ms=$(($2 - $1))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

ct_root_ensure() {
	local key lock marker tmp t0 rc
	key=$(printf '%s\n' "$CT_SUITE" minbase "$CT_PACKAGES" v1 | sha256sum | cut -c1-12)
	CT_ROOT=$CT_CACHE/$CT_SUITE-$key
	marker=$CT_ROOT/.ss-e2e-root
	[ -f "$marker" ] && return 0
	mkdir -p "$CT_CACHE" || return 1
	lock=$CT_CACHE/.lock
	# One debootstrap at a time; a second run waits for the first (bounded).
	exec {ct_lock_fd}>"$lock" || return 1
	if ! flock -w 600 "$ct_lock_fd"; then
		echo "e2e: timed out waiting for $lock"
		exec {ct_lock_fd}>&-
		return 1
	fi
	if [ ! -f "$marker" ]; then
		tmp=$CT_ROOT.tmp
		rm -rf "$tmp"
		echo "e2e: building the container root $CT_ROOT (debootstrap $CT_SUITE, once; ~1 min)"
		t0=$(ct_now)
		timeout -k 10 900 debootstrap --variant=minbase --include="$CT_PACKAGES" \
			"$CT_SUITE" "$tmp" "$CT_MIRROR" >"$CT_CACHE/debootstrap.log" 2>&1
		rc=$?
		if [ "$rc" != 0 ]; then
			echo "e2e: debootstrap failed (exit $rc); last lines of $CT_CACHE/debootstrap.log:"
			tail -n 15 "$CT_CACHE/debootstrap.log" | sed 's/^/    /'
			rm -rf "$tmp"
			exec {ct_lock_fd}>&-
			return 1
		fi
		# apt's downloads are not needed any more.
		rm -f "$tmp"/var/cache/apt/archives/*.deb
		printf '%s\n%s\n' "$CT_SUITE" "$CT_PACKAGES" >"$tmp/.ss-e2e-root"
		# Roots made for another package list are stale now.
		local old
		for old in "$CT_CACHE"/"$CT_SUITE"-*; do
			[ -d "$old" ] && [ "$old" != "$CT_ROOT" ] && [ "$old" != "$tmp" ] &&
				[ -f "$old/.ss-e2e-root" ] && rm -rf "$old"
		done
		mv "$tmp" "$CT_ROOT"
		echo "e2e: debootstrap took $(ct_secs "$t0" "$(ct_now)") s"
	fi
	exec {ct_lock_fd}>&-
	return 0
}

# The cgroup path of this process in the hierarchy mounted at $1 (v1 named or v2).
ct_own_cgroup() {
	local mnt=$1 line
	if [ "$mnt" = /sys/fs/cgroup/systemd ]; then
		line=$(grep -m1 ':name=systemd:' /proc/self/cgroup)
	else
		line=$(grep -m1 '^0::' /proc/self/cgroup)
	fi
	printf '%s\n' "${line#*:*:}"
}

# Makes a cgroup of its own for the container, in every hierarchy systemd uses, below
# this process's cgroup there; records the paths in CT_CGROUPS.
ct_cgroup_prepare() {
	local mnt dir own
	for mnt in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -f "$mnt/cgroup.procs" ] || continue
		# /sys/fs/cgroup itself only when it is the cgroup2 mount (pure v2 host).
		if [ "$mnt" = /sys/fs/cgroup ] && [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
			continue
		fi
		own=$(ct_own_cgroup "$mnt")
		dir=$mnt${own%/}/$CT_NAME
		mkdir -p "$dir" || return 1
		CT_CGROUPS+=("$dir")
	done
	[ "${#CT_CGROUPS[@]}" -gt 0 ]
}

# A run that was killed (SIGKILL, e.g. by CTest's timeout) cannot clean up: its
# container dies with systemd-nspawn, but empty cgroups ss-e2e-PID and nspawn's
# /run/systemd/nspawn/propagate/ss-e2e-PID stay. Removes those whose run (PID) is gone.
# Only empty cgroups are removed (rmdir); no process is touched.
ct_gc_stale() {
	local mnt own dir name pid
	for mnt in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -f "$mnt/cgroup.procs" ] || continue
		own=$(ct_own_cgroup "$mnt")
		for dir in "$mnt${own%/}"/ss-e2e-*; do
			[ -d "$dir" ] || continue
			name=${dir##*/}
			pid=${name#ss-e2e-}
			pid=${pid%%-*}
			case "$pid" in '' | *[!0-9]*) continue ;; esac
			[ "$pid" = $$ ] && continue
			if [ -d "/proc/$pid" ] && grep -qa e2e "/proc/$pid/cmdline" 2>/dev/null; then
				continue
			fi
			find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$dir" ] || echo "e2e: removed the stale cgroup $dir"
		done
	done
	for dir in /run/systemd/nspawn/propagate/ss-e2e-*; do
		[ -d "$dir" ] || continue
		pid=${dir##*/ss-e2e-}
		pid=${pid%%-*}
		case "$pid" in '' | *[!0-9]*) continue ;; esac
		if [ -d "/proc/$pid" ] && grep -qa e2e "/proc/$pid/cmdline" 2>/dev/null; then
			continue
		fi
		rmdir "$dir" 2>/dev/null && echo "e2e: removed the stale $dir"
	done
}

ct_cgroup_cleanup() {
	local dir p pids
	for dir in "${CT_CGROUPS[@]}"; do
		[ -d "$dir" ] || continue
		# Anything still in it was started by this container: SIGKILL it by pid.
		pids=$(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null)
		for p in $pids; do
			kill -KILL "$p" 2>/dev/null
		done
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$dir" ] && sleep 0.5 && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$dir" ] && echo "e2e: warning: could not remove the cgroup $dir"
	done
	CT_CGROUPS=()
}

# systemd-nspawn is running (a zombie not yet reaped is not).
ct_alive() {
	local st
	[ -n "$CT_NSPAWN_PID" ] || return 1
	st=$(ps -o stat= -p "$CT_NSPAWN_PID" 2>/dev/null)
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Waits up to $1 seconds for systemd-nspawn to exit.
ct_wait_exit() {
	local deadline=$(($(ct_now) + $1 * 1000))
	while ct_alive; do
		[ "$(ct_now)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	wait "$CT_NSPAWN_PID" 2>/dev/null
	CT_EXIT_STATUS=$?
	return 0
}

ct() {
	local t=30
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	[ -n "$CT_LEADER" ] || return 125
	# The inner timeout ends the command inside the container; the outer one is the
	# backstop should nsenter itself hang. --foreground keeps the outer one in our
	# process group, so that a SIGTERM to the test's group (test_e2e.sh's timeout)
	# reaches it and nsenter too. (nsenter stops itself when its child is stopped, as
	# systemd-shutdown does to every process at power-off: -k ends it then.)
	timeout --foreground -k 3 $((t + 10)) nsenter --target "$CT_LEADER" --all --root --wd -- \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 DEBIAN_FRONTEND=noninteractive \
		timeout -k 2 "$t" "$@"
}

# ct_spawn NAME NSPAWN-ARGS...: starts systemd-nspawn on CT_ROOT in the background
# (volatile overlay, no network, no registration), in cgroups of its own when the host
# has no systemd; output to CT_LOG. Sets CT_NAME and CT_NSPAWN_PID.
ct_spawn() {
	local args host_systemd=0 dir
	CT_NAME=$1
	shift
	ct_gc_stale
	[ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && host_systemd=1
	args=(--quiet --directory="$CT_ROOT" --machine="$CT_NAME" --volatile=overlay
		--private-network --link-journal=no --register=no --console=read-only
		--resolv-conf=off --timezone=off)
	[ "$host_systemd" = 0 ] && args+=(--keep-unit)
	args+=("$@")
	if [ "$host_systemd" = 0 ] && ! ct_cgroup_prepare; then
		echo "e2e: could not create a cgroup for the container"
		return 1
	fi
	(
		# In the subshell: into the container's cgroups, then become systemd-nspawn.
		for dir in "${CT_CGROUPS[@]}"; do
			echo "$BASHPID" >"$dir/cgroup.procs" || exit 1
		done
		exec systemd-nspawn "${args[@]}"
	) </dev/null >>"$CT_LOG" 2>&1 &
	CT_NSPAWN_PID=$!
}

# ct_run_plain SECS NSPAWN-ARGS... -- CMD...: runs CMD in the root without booting it
# (no systemd running: what a chroot or an image build sees), bounded by SECS.
# Returns CMD's exit status; its output is in CT_LOG.
ct_run_plain() {
	local secs=$1 rc
	shift
	ct_spawn "ss-e2e-$$-plain" --as-pid2 "$@" || return 1
	if ct_wait_exit "$secs"; then
		rc=$CT_EXIT_STATUS
	else
		echo "e2e: the command in the unbooted container did not finish within $secs s"
		kill -TERM "$CT_NSPAWN_PID" 2>/dev/null
		if ! ct_wait_exit 10; then
			kill -KILL "$CT_NSPAWN_PID" 2>/dev/null
			ct_wait_exit 10
		fi
		rc=124
	fi
	CT_NSPAWN_PID=
	ct_cleanup_host
	return "$rc"
}

# ct_boot EXTRA-NSPAWN-ARGS...
ct_boot() {
	local deadline c state
	ct_spawn "ss-e2e-$$" --boot "$@" || return 1

	# The container's PID 1: the child of nspawn that runs systemd in another PID namespace.
	deadline=$(($(ct_now) + 30000))
	while [ -z "$CT_LEADER" ]; do
		if ! ct_alive; then
			echo "e2e: systemd-nspawn exited during boot; its output ($CT_LOG):"
			tail -n 30 "$CT_LOG" | sed 's/^/    /'
			return 1
		fi
		for c in $(ps -o pid= --ppid "$CT_NSPAWN_PID" 2>/dev/null); do
			if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ] &&
			   [ "$(readlink "/proc/$c/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
				CT_LEADER=$c
			fi
		done
		[ -n "$CT_LEADER" ] && break
		if [ "$(ct_now)" -ge "$deadline" ]; then
			echo "e2e: no systemd in the container after 30 s"
			return 1
		fi
		sleep 0.1
	done

	# Up: is-system-running --wait returns once start-up is over (running or degraded).
	deadline=$(($(ct_now) + 60000))
	while :; do
		state=$(ct -t 20 systemctl is-system-running --wait 2>/dev/null)
		case "$state" in
		running) return 0 ;;
		degraded)
			echo "e2e: note: the container booted degraded; failed units:"
			ct systemctl --failed --no-legend --plain 2>&1 | sed 's/^/    /'
			return 0
			;;
		esac
		if ! ct_alive || [ "$(ct_now)" -ge "$deadline" ]; then
			echo "e2e: the container's systemd did not finish starting (state '$state')"
			tail -n 30 "$CT_LOG" | sed 's/^/    /'
			return 1
		fi
		sleep 0.2
	done
}

# ct_poweroff [now]: "systemctl poweroff" inside, bounded; with "now" (the test was
# interrupted) SIGTERM to systemd-nspawn at once, which halts the container.
ct_poweroff() {
	if ct_alive; then
		if [ "${1:-}" = now ] || [ -z "$CT_LEADER" ]; then
			kill -TERM "$CT_NSPAWN_PID" 2>/dev/null
		else
			ct -t 10 systemctl poweroff --no-block >/dev/null 2>&1
		fi
		if ! ct_wait_exit 30; then
			echo "e2e: the container did not power off within 30 s: SIGTERM to systemd-nspawn ($CT_NSPAWN_PID)"
			kill -TERM "$CT_NSPAWN_PID" 2>/dev/null
			if ! ct_wait_exit 10; then
				echo "e2e: SIGKILL to the container ($CT_LEADER) and systemd-nspawn ($CT_NSPAWN_PID)"
				[ -n "$CT_LEADER" ] && kill -KILL "$CT_LEADER" 2>/dev/null
				kill -KILL "$CT_NSPAWN_PID" 2>/dev/null
				ct_wait_exit 10
			fi
		fi
	fi
	[ -n "$CT_NSPAWN_PID" ] && wait "$CT_NSPAWN_PID" 2>/dev/null
	CT_NSPAWN_PID=
	CT_LEADER=
	ct_cleanup_host
}

# After systemd-nspawn has exited: its cgroups, and what it leaves in /run on a host
# whose /run is not a tmpfs.
ct_cleanup_host() {
	ct_cgroup_cleanup
	if [ -n "$CT_NAME" ]; then
		rm -rf "/run/systemd/nspawn/propagate/$CT_NAME"
		rm -rf "/run/systemd/nspawn/unix-export/$CT_NAME"
	fi
}
