#!/bin/bash
# Fuzzes the PROXY protocol parser (tests/fuzz/fuzz_proxy.c) for a bounded time:
# configures a clang build of its own in $SS_BUILD_DIR/fuzz-build with -DFUZZ=ON, builds
# only fuzz_proxy, and runs it from a copy of the seed corpus with the dictionary.
# Exit 0 pass, 1 fail (a crash, a broken invariant, a build error), 77 skip (no clang or
# no libFuzzer runtime: on Debian 12, apt-get install clang libclang-rt-14-dev).
#
# Environment: SS_SOURCE_DIR, SS_BUILD_DIR (set by CTest); FUZZ_SECONDS (default 60),
# the fuzzing time, kept with the build inside CTest's 120 s limit for scripts.
# A crashing input is kept in $SS_BUILD_DIR/fuzz-artifacts/ to reproduce it with
#   $SS_BUILD_DIR/fuzz-build/tests/fuzz/fuzz_proxy FILE

set -u

src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SS_BUILD_DIR:-$src/build}
seconds=${FUZZ_SECONDS:-60}
fb=$build/fuzz-build
artifacts=$build/fuzz-artifacts

case $seconds in
'' | *[!0-9]*)
	echo "FAIL: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'"
	exit 1
	;;
esac

if [ "$seconds" = 0 ]; then
	echo "SKIP: FUZZ_SECONDS=0 (the fuzz run happens in the other build of scripts/test.sh)"
	exit 77
fi

cc=$(command -v clang || true)
if [ -z "$cc" ]; then
	echo "SKIP: clang is not installed (apt-get install clang libclang-rt-14-dev)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-fuzz-proxy.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# clang alone is not enough: the libFuzzer runtime is a separate Debian package.
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$tmp/probe.c"
if ! "$cc" -fsanitize=fuzzer "$tmp/probe.c" -o "$tmp/probe" >"$tmp/probe.log" 2>&1; then
	echo "SKIP: clang cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev):"
	sed 's/^/  /' "$tmp/probe.log" | head -5
	exit 77
fi

# CMAKE_C_COMPILER rather than CC: CC is only read when a build directory is first made.
if ! cmake -S "$src" -B "$fb" -DCMAKE_C_COMPILER="$cc" -DFUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1; then
	echo "FAIL: configuring $fb"
	tail -30 "$tmp/configure.log"
	exit 1
fi
if ! cmake --build "$fb" --target fuzz_proxy -j"$(nproc)" >"$tmp/build.log" 2>&1; then
	echo "FAIL: building fuzz_proxy"
	tail -30 "$tmp/build.log"
	exit 1
fi

# The fuzzer adds what it finds to its corpus directory: use a copy, never the seeds.
mkdir -p "$tmp/corpus" "$artifacts"
touch "$tmp/stamp"
cp "$src"/tests/fuzz/corpus/proxy/* "$tmp/corpus/"
nseeds=$(ls "$tmp/corpus" | wc -l)

echo "fuzzing proxy_parse for ${seconds}s from $nseeds seeds"
# -max_len: the parser never reads past 536 bytes; longer inputs test the bytes after it.
# The outer timeout only guards against a hung fuzzer.
timeout $((seconds + 60)) "$fb/tests/fuzz/fuzz_proxy" \
	-max_total_time="$seconds" -max_len=1024 -timeout=10 -rss_limit_mb=2048 \
	-dict="$src/tests/fuzz/proxy.dict" -artifact_prefix="$artifacts/" \
	-print_final_stats=1 "$tmp/corpus" >"$tmp/fuzz.log" 2>&1
rc=$?

grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
	"$tmp/fuzz.log"
# libFuzzer exits 77 on a crash by default, which CTest would take for a skip: any
# non-zero status is a failure here.
if [ $rc -ne 0 ]; then
	echo "FAIL: fuzz_proxy exited with $rc"
	grep -E -A25 'invariant failed|ERROR: (AddressSanitizer|libFuzzer)|runtime error|deadly signal' \
		"$tmp/fuzz.log" | head -60
	# Only this run's inputs: older ones may be kept on purpose.
	find "$artifacts" -type f -newer "$tmp/stamp" | while read -r f; do
		echo "--- $f"
		od -A d -c "$f" | head -20
	done
	exit 1
fi
echo "PASS: $(ls "$tmp/corpus" | wc -l) corpus entries after fuzzing"
exit 0
