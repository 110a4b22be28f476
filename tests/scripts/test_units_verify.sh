#!/bin/bash
# Checks the files under units/ and docs/man/ with the tools that will read them:
#   - systemd-analyze verify on superserverd.service and superserverd.socket: any
#     message about our units is a failure (verify exits 0 on many warnings, so the
#     output is what counts);
#   - systemd-sysusers and systemd-tmpfiles on the snippets, against a scratch root;
#   - scdoc on every docs/man/*.scd;
#   - systemd-analyze security --offline=true: the exposure score, for information.
# Exit 0 pass, 1 fail, 77 skip (none of the tools is installed).
#
# Environment (set by CTest): SS_SOURCE_DIR = repository root, SS_BUILD_DIR = build
# directory (the daemon is $SS_BUILD_DIR/superserverd).

set -u

src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SS_BUILD_DIR:-}
units=$src/units
failed=0
ran=0

fail() {
	echo "FAIL: $*"
	failed=1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

for f in superserverd.service superserverd.socket superserverd.sysusers superserverd.tmpfiles; do
	if [ ! -f "$units/$f" ]; then
		fail "missing $units/$f"
	fi
done
[ "$failed" = 0 ] || exit 1

# --- systemd-analyze verify -----------------------------------------------------------

# Lines of `systemd-analyze verify` output that are about our units. verify also
# reports problems of units ours pull in from the host (targets, other services);
# those are not ours to fix.
about_our_units() {
	grep -E "superserverd[^ :]*\.(service|socket)" || true
}

# verify DIR: runs systemd-analyze verify on the two units in DIR; prints what it said
# about them. Returns 1 if it said anything (or exited non-zero because of them).
verify_dir() {
	local dir=$1 out rc ours
	out=$(cd "$dir" && systemd-analyze verify --man=no \
		"$dir/superserverd.service" "$dir/superserverd.socket" 2>&1)
	rc=$?
	ours=$(printf '%s\n' "$out" | about_our_units)
	if [ -n "$ours" ]; then
		printf '%s\n' "$ours"
		return 1
	fi
	if [ "$rc" != 0 ]; then
		# Non-zero without a word about our units: the host, not us.
		echo "note: systemd-analyze verify exited $rc without naming our units:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
	return 0
}

if command -v systemd-analyze >/dev/null 2>&1; then
	ran=1
	# ExecStart=/usr/sbin/superserverd does not exist on a build machine, and verify
	# checks that commands exist: point the copies at the built binary.
	bin=
	if [ -n "$build" ] && [ -x "$build/superserverd" ]; then
		bin=$build/superserverd
	else
		bin=/bin/true
		echo "note: ${build:-SS_BUILD_DIR unset}/superserverd not built; checking the units with ExecStart=$bin"
	fi
	mkdir -p "$tmp/units" "$tmp/broken"
	for u in superserverd.service superserverd.socket; do
		sed "s#/usr/sbin/superserverd#$bin#g" "$units/$u" >"$tmp/units/$u"
	done
	if grep -q /usr/sbin/superserverd "$tmp/units/superserverd.service" ||
	   ! grep -q "^ExecStart=$bin " "$tmp/units/superserverd.service"; then
		fail "could not rewrite ExecStart= of superserverd.service"
	fi

	echo "== systemd-analyze verify"
	if ! verify_dir "$tmp/units"; then
		fail "systemd-analyze verify reported problems in our units (above)"
	else
		echo "ok: no complaints about superserverd.service and superserverd.socket"
	fi

	# The check must be able to fail: an unknown key and a bad value in a copy of the
	# service have to be reported, or the filter above is letting everything through.
	cp "$tmp/units/superserverd.socket" "$tmp/broken/"
	sed -e 's/^ProtectHome=.*/ProtectHome=perhaps/' \
	    -e 's/^\[Service\]$/[Service]\nNoSuchSetting=1/' \
	    "$tmp/units/superserverd.service" >"$tmp/broken/superserverd.service"
	broken_out=$(verify_dir "$tmp/broken")
	if ! printf '%s\n' "$broken_out" | grep -q NoSuchSetting ||
	   ! printf '%s\n' "$broken_out" | grep -q perhaps; then
		fail "self-check: verify did not report an injected unknown key and bad value"
		printf '%s\n' "$broken_out" | sed 's/^/    /'
	else
		echo "ok: self-check (injected errors are reported)"
	fi

	echo "== systemd-analyze security --offline=true (information only)"
	if sec=$(cd "$tmp/units" && systemd-analyze security --offline=true --no-pager \
			"$tmp/units/superserverd.service" 2>&1); then
		printf '%s\n' "$sec" | grep -E "Overall exposure level" || echo "$sec" | tail -n 3
	else
		echo "note: systemd-analyze security --offline=true is not available here"
	fi
else
	echo "note: systemd-analyze not installed: unit files not verified"
fi

# --- sysusers.d and tmpfiles.d snippets -----------------------------------------------

if command -v systemd-sysusers >/dev/null 2>&1; then
	ran=1
	echo "== systemd-sysusers (scratch root)"
	mkdir -p "$tmp/root/etc"
	out=$(systemd-sysusers --root="$tmp/root" - <"$units/superserverd.sysusers" 2>&1)
	rc=$?
	# It announces what it creates ("Creating group ..."); anything else is a complaint.
	other=$(printf '%s\n' "$out" | grep -v -e '^Creating ' -e '^$' || true)
	if [ "$rc" != 0 ] || [ -n "$other" ]; then
		fail "systemd-sysusers rejected units/superserverd.sysusers (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/    /'
	elif ! grep -q '^superserverd:' "$tmp/root/etc/group" ||
	     ! grep -q '^_superserverd:' "$tmp/root/etc/passwd"; then
		fail "systemd-sysusers did not create the superserverd group and _superserverd user"
	else
		echo "ok: $(printf '%s\n' "$out" | tr '\n' ';' | sed 's/;$//')"
	fi
else
	echo "note: systemd-sysusers not installed: sysusers snippet not checked"
fi

if command -v systemd-tmpfiles >/dev/null 2>&1; then
	ran=1
	echo "== systemd-tmpfiles --create (scratch root)"
	snippet=$units/superserverd.tmpfiles
	if [ "$(id -u)" != 0 ]; then
		# Not root: chown to root would fail; the syntax is what we check.
		sed -E 's/^([^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+)[[:space:]]+root[[:space:]]+root/\1 - -/' \
			"$snippet" >"$tmp/tmpfiles.conf"
		snippet=$tmp/tmpfiles.conf
	fi
	mkdir -p "$tmp/root"
	out=$(systemd-tmpfiles --create --root="$tmp/root" - <"$snippet" 2>&1)
	rc=$?
	if [ "$rc" != 0 ] || [ -n "$out" ]; then
		fail "systemd-tmpfiles rejected units/superserverd.tmpfiles (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/    /'
	elif [ ! -d "$tmp/root/run/superserverd" ]; then
		fail "systemd-tmpfiles did not create /run/superserverd"
	else
		echo "ok: /run/superserverd $(stat -c '%a' "$tmp/root/run/superserverd")"
	fi
else
	echo "note: systemd-tmpfiles not installed: tmpfiles snippet not checked"
fi

# --- man pages --------------------------------------------------------------------------

if command -v scdoc >/dev/null 2>&1; then
	ran=1
	echo "== scdoc"
	shopt -s nullglob
	pages=("$src"/docs/man/*.scd)
	if [ "${#pages[@]}" = 0 ]; then
		fail "no docs/man/*.scd"
	fi
	for p in "${pages[@]}"; do
		if ! err=$(scdoc <"$p" 2>&1 >/dev/null) || [ -n "$err" ]; then
			fail "scdoc rejected ${p#"$src"/}: $err"
		else
			echo "ok: ${p#"$src"/}"
		fi
	done
else
	echo "note: scdoc not installed: man pages not checked"
fi

if [ "$ran" = 0 ]; then
	echo "SKIP: none of systemd-analyze, systemd-sysusers, systemd-tmpfiles, scdoc is installed"
	exit 77
fi
if [ "$failed" != 0 ]; then
	exit 1
fi
echo "PASS"
exit 0
