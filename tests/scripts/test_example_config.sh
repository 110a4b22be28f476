#!/usr/bin/env bash
# The configurations shown to new users must stay valid: examples/superserverd.yaml (the
# README's first command runs it) and the README's "A configuration" example, which is
# written for an installed package, so its module path is pointed at the build tree.
set -u
bin=${SS_BUILD_DIR:?}/superserverd
[ -x "$bin" ] || { echo "SKIP: $bin not built"; exit 77; }
status=0

check() { # NAME FILE
	local out
	if out=$("$bin" --check-config -c "$2" 2>&1); then
		echo "$1: $out"
	else
		echo "FAIL: $1: $out"
		status=1
	fi
}

check examples/superserverd.yaml "$SS_SOURCE_DIR/examples/superserverd.yaml"

installed=/usr/lib/x86_64-linux-gnu/superserverd/modules/qotd.so
built=$SS_BUILD_DIR/services/modules/qotd.so
[ -f "$built" ] || { echo "SKIP: $built not built"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# The first yaml block after the heading, as the reader sees it.
awk '/^## A configuration/ { f = 1 } f && /^```yaml/ { p = 1; next } p && /^```/ { exit } p' \
	"$SS_SOURCE_DIR/README.md" >"$tmp/readme.yaml"
if [ ! -s "$tmp/readme.yaml" ]; then
	echo "FAIL: README.md: no yaml block under '## A configuration'"
	exit 1
fi
if ! grep -qF "$installed" "$tmp/readme.yaml"; then
	echo "FAIL: README.md's example no longer names $installed: update this test"
	exit 1
fi
sed "s|$installed|$built|" "$tmp/readme.yaml" >"$tmp/readme-built.yaml"
check "README.md's example" "$tmp/readme-built.yaml"
exit $status
