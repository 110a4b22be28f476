#!/usr/bin/env bash
# superctl import against the corpus in tests/import/: every case directory holds the
# input (an xinetd tree or an inetd.conf), `cmd` (the import's arguments) and the
# expected YAML, report and exit status, compared exactly. The import runs with
# --other-host and the corpus's own services file, so the expected outputs hold on
# any machine. Then the cases whose features are on this branch are imported as for
# this host and must pass `superserverd --check-config`.
set -euo pipefail

build=${SS_BUILD_DIR:?run through ctest (SS_BUILD_DIR)}
corpus=${SS_SOURCE_DIR:?}/tests/import
superctl=$build/superctl
superserverd=$build/superserverd

# The cases whose import for this host must pass --check-config.
CHECK_NOW=(debian disabled)
# Cases that name programs this host lacks (Xvnc, fortune): imported for another host
# (--other-host), those programs replaced by /bin/cat, then checked: their forward and
# banner services must load.
CHECK_OTHER_HOST=(suse everything)

fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for dir in "$corpus"/*/; do
	case=$(basename "$dir")
	read -ra args <"$dir/cmd"
	status=0
	(cd "$dir" && "$superctl" import --other-host --services ../services "${args[@]}") \
		>"$tmp/$case.yaml" 2>"$tmp/$case.report" || status=$?
	for part in yaml report; do
		if ! diff -u "$dir/expected.$part" "$tmp/$case.$part"; then
			echo "FAIL: $case: the $part differs from expected.$part" >&2
			fail=1
		fi
	done
	if [ "$status" != "$(cat "$dir/expected.status")" ]; then
		echo "FAIL: $case: exit status $status, expected $(cat "$dir/expected.status")" >&2
		fail=1
	fi
done

# Input that is not a regular file never hangs the import: a FIFO in an includedir is
# passed over as xinetd does, a FIFO or device named directly is an error.
mkdir "$tmp/fifo.d"
mkfifo "$tmp/fifo.d/tftp" "$tmp/fifo"
printf 'includedir %s\n' "$tmp/fifo.d" >"$tmp/fifo.conf"
status=0
timeout 20 "$superctl" import xinetd "$tmp/fifo.conf" >/dev/null 2>"$tmp/fifo.report" || status=$?
[ "$status" = 0 ] || { echo "FAIL: a FIFO in an includedir: exit status $status (124: it hung)" >&2; fail=1; }
for input in "$tmp/fifo" /dev/zero; do
	status=0
	timeout 20 "$superctl" import inetd "$input" >/dev/null 2>"$tmp/fifo.report" || status=$?
	if [ "$status" != 2 ] || ! grep -q "not a regular file" "$tmp/fifo.report"; then
		echo "FAIL: import inetd $input: exit status $status (124: it hung), report:" >&2
		cat "$tmp/fifo.report" >&2
		fail=1
	fi
done

# The corpus must hold what issue 14 asks for: at least 20 xinetd.d files and inetd.conf
# lines, and editor backups that the includedir rules skip.
n=$(find "$corpus" -path '*/xinetd.d/*' -type f ! -name '*~' ! -name '*.*' | wc -l)
n=$((n + $(grep -hcv '^\s*\(#\|$\)' "$corpus"/inetd-*/inetd.conf | paste -sd+ | bc)))
if [ "$n" -lt 20 ]; then
	echo "FAIL: the corpus has $n service files and lines (at least 20 wanted)" >&2
	fail=1
fi

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: --check-config of imported services running as root needs root" >&2
	exit $([ $fail = 0 ] && echo 77 || echo 1)
fi
for case in "${CHECK_NOW[@]}"; do
	read -ra args <"$corpus/$case/cmd"
	status=0
	(cd "$corpus/$case" && "$superctl" import --services ../services "${args[@]}") \
		>"$tmp/$case.host.yaml" 2>"$tmp/$case.host.report" || status=$?
	if [ "$status" = 2 ]; then
		echo "FAIL: $case: the import for this host reports errors:" >&2
		cat "$tmp/$case.host.report" >&2
		fail=1
		continue
	fi
	if ! "$superserverd" --check-config -c "$tmp/$case.host.yaml"; then
		echo "FAIL: $case: the imported YAML does not pass --check-config" >&2
		cat "$tmp/$case.host.yaml" >&2
		fail=1
	fi
done
for case in "${CHECK_OTHER_HOST[@]}"; do
	read -ra args <"$corpus/$case/cmd"
	status=0
	(cd "$corpus/$case" && "$superctl" import --services ../services --other-host "${args[@]}") \
		>"$tmp/$case.other.yaml" 2>"$tmp/$case.other.report" || status=$?
	if [ "$status" = 2 ]; then
		echo "FAIL: $case: the import for another host reports errors:" >&2
		cat "$tmp/$case.other.report" >&2
		fail=1
		continue
	fi
	while read -r prog; do
		[ -x "$prog" ] || sed -i "s|exec: \[$prog,|exec: [/bin/cat,|; s|exec: \[$prog\]|exec: [/bin/cat]|" \
			"$tmp/$case.other.yaml"
	done < <(sed -n 's/^ *exec: \[\([^],]*\).*/\1/p' "$tmp/$case.other.yaml")
	grep -qE 'builtin: forward|banner' "$tmp/$case.other.yaml" ||
		{ echo "FAIL: $case: expected forward or banner services in the import" >&2; fail=1; }
	if ! "$superserverd" --check-config -c "$tmp/$case.other.yaml"; then
		echo "FAIL: $case: the imported YAML (programs missing here replaced) does not pass --check-config" >&2
		cat "$tmp/$case.other.yaml" >&2
		fail=1
	fi
done
exit $fail
