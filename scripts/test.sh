#!/usr/bin/env bash
# Builds superserverd twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs the whole test suite in both. Tests that need root say SKIP when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build package test
jobs=$(nproc)
status=0
for variant in normal sanitize; do
	dir=build-test-$variant
	flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	[ "$variant" = sanitize ] && flags=(-DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON)
	echo "=== $variant build ($dir)"
	cmake -S . -B "$dir" "${flags[@]}" >/dev/null
	cmake --build "$dir" -j"$jobs"
	echo "=== $variant tests"
	# The fuzz targets are always built with ASan+UBSan in a build of their own: fuzz
	# once, 40 s per target.
	fuzz=40
	[ "$variant" = sanitize ] && fuzz=0
	FUZZ_SECONDS=$fuzz ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir "$dir" --output-on-failure -j"$jobs" || status=1
done
exit $status
