#!/usr/bin/env bash
# The quick-start configuration must stay valid: the README's first command runs it.
set -u
bin=${SS_BUILD_DIR:?}/superserverd
[ -x "$bin" ] || { echo "SKIP: $bin not built"; exit 77; }
if out=$("$bin" --check-config -c "${SS_SOURCE_DIR:?}/examples/superserverd.yaml" 2>&1); then
	echo "$out"
	exit 0
fi
echo "FAIL: examples/superserverd.yaml: $out"
exit 1
