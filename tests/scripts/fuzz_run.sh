#!/bin/bash
# Fuzzes one libFuzzer target of tests/fuzz for a bounded time: fuzz_run.sh NAME runs
# tests/fuzz/fuzz_NAME.c from a copy of its seed corpus tests/fuzz/corpus/NAME/, with
# the dictionary tests/fuzz/NAME.dict and the libFuzzer flags of tests/fuzz/NAME.options
# (both optional). CTest runs it once per target (tests/CMakeLists.txt: one test per
# tests/fuzz/fuzz_*.c).
#
# Every target is built in one clang build directory, $SS_BUILD_DIR/fuzz-build
# (-DFUZZ=ON); runs side by side take a lock around the build, so the first builds and
# the others find it done. Exit 0 pass, 1 fail (a crash, a broken invariant, a leak, a
# build error), 77 skip (no clang or no libFuzzer runtime: on Debian 12, apt-get
# install clang libclang-rt-14-dev; or FUZZ_SECONDS=0).
#
# Environment: SS_SOURCE_DIR, SS_BUILD_DIR (set by CTest); FUZZ_SECONDS (default 40),
# the fuzzing time of each target. A crashing input is kept in
# $SS_BUILD_DIR/fuzz-artifacts/NAME/ to reproduce it with
#   $SS_BUILD_DIR/fuzz-build/tests/fuzz/fuzz_NAME FILE

set -u

name=${1:-}
src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SS_BUILD_DIR:-$src/build}
seconds=${FUZZ_SECONDS:-40}
fb=$build/fuzz-build
artifacts=$build/fuzz-artifacts/$name

case $name in
'' | *[!a-z0-9_]*)
	echo "FAIL: usage: fuzz_run.sh NAME (a target tests/fuzz/fuzz_NAME.c)"
	exit 1
	;;
esac
if [ ! -f "$src/tests/fuzz/fuzz_$name.c" ] || [ ! -d "$src/tests/fuzz/corpus/$name" ]; then
	echo "FAIL: no tests/fuzz/fuzz_$name.c or no seed corpus tests/fuzz/corpus/$name/"
	exit 1
fi
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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-fuzz-$name.XXXXXX") || exit 1
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

# One build of every target, shared by the runs: the lock makes a run that starts
# while another builds wait for it. CMAKE_C_COMPILER rather than CC: CC is only read
# when a build directory is first made.
mkdir -p "$build"
(
	flock 9
	cmake -S "$src" -B "$fb" -DCMAKE_C_COMPILER="$cc" -DFUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 || exit 2
	cmake --build "$fb" --target fuzz_targets -j"$(nproc)" >"$tmp/build.log" 2>&1 || exit 3
) 9>"$build/fuzz-build.lock"
case $? in
0) ;;
2)
	echo "FAIL: configuring $fb"
	tail -30 "$tmp/configure.log"
	exit 1
	;;
*)
	echo "FAIL: building the fuzz targets"
	tail -30 "$tmp/build.log"
	exit 1
	;;
esac

# The fuzzer adds what it finds to its corpus directory: use a copy, never the seeds.
mkdir -p "$tmp/corpus" "$artifacts"
touch "$tmp/stamp"
cp "$src/tests/fuzz/corpus/$name"/* "$tmp/corpus/"
nseeds=$(ls "$tmp/corpus" | wc -l)
flags=()
[ -f "$src/tests/fuzz/$name.dict" ] && flags+=(-dict="$src/tests/fuzz/$name.dict")
if [ -f "$src/tests/fuzz/$name.options" ]; then
	# One flag a line; '#' starts a comment.
	while read -r flag; do
		flags+=("$flag")
	done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$src/tests/fuzz/$name.options")
fi

echo "fuzzing fuzz_$name for ${seconds}s from $nseeds seeds"
# The outer timeout only guards against a hung fuzzer.
timeout $((seconds + 120)) "$fb/tests/fuzz/fuzz_$name" \
	-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$artifacts/" -print_final_stats=1 "${flags[@]}" \
	"$tmp/corpus" >"$tmp/fuzz.log" 2>&1
rc=$?

grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
	"$tmp/fuzz.log"
# libFuzzer exits 77 on a crash by default, which CTest would take for a skip: any
# non-zero status is a failure here.
if [ $rc -ne 0 ]; then
	echo "FAIL: fuzz_$name exited with $rc"
	grep -E -A25 'invariant failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|deadly signal' \
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
