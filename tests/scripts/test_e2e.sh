#!/bin/bash
# CTest entry of the end-to-end test: the Debian package built from this tree,
# installed and exercised in a container that boots Debian 12's systemd as PID 1.
# Everything is in tests/e2e/run.sh (and described there and in docs/packaging.md).
# Exit 0 pass, 1 fail, 77 skip (not root; systemd-nspawn or debootstrap missing; a
# sanitizer build).
#
# Environment (set by CTest): SS_SOURCE_DIR = repository root, SS_BUILD_DIR = build
# directory. The first run debootstraps a root into /var/cache/superserverd-e2e
# (about a minute); later runs reuse it and take about 30 s.
#
# SS_E2E_TIMEOUT (default 1200 s) bounds the whole run: then every process of the test
# gets SIGTERM (systemd-nspawn powers the container off, run.sh cleans up), SIGKILL
# 20 s later. Keep it below CTest's TIMEOUT for this test, so that the test ends itself.
src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# Generous: on a busy machine the first run's debootstrap and package build alone may
# take minutes (they have inner limits of their own, 900 s each).
limit=${SS_E2E_TIMEOUT:-1200}
timeout -k 20 "$limit" bash "$src/tests/e2e/run.sh"
rc=$?
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "FAIL: the e2e test did not finish within $limit s (SS_E2E_TIMEOUT)"
	exit 1
fi
exit "$rc"
