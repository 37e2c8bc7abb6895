#!/bin/bash
# `make check`: unit tests (normal and ASan+UBSan builds), short fuzz runs, then the
# integration tests. Every step prints "ok - NAME" or "not ok - NAME"; the last line
# is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
log_dir=$top/tests/.work/logs
mkdir -p "$log_dir"
passed=0
failed=0
failed_names=()

record() { # record NAME STATUS
	if [ "$2" = 0 ]; then
		echo "ok - $1"
		passed=$((passed + 1))
	else
		echo "not ok - $1"
		failed=$((failed + 1))
		failed_names+=("$1")
	fi
}

# Unit tests, normal build.
meson test -C build --print-errorlogs > "$log_dir/unit.log" 2>&1
st=$?
grep -E '^ *[0-9]+/[0-9]+ ' "$log_dir/unit.log" | sed 's/^/  /'
record "unit tests" $st

# Unit tests under ASan + UBSan.
if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug > "$log_dir/asan-setup.log" 2>&1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
{ ninja -C build-asan && meson test -C build-asan --print-errorlogs; } > "$log_dir/asan.log" 2>&1
st=$?
[ $st = 0 ] || tail -40 "$log_dir/asan.log"
record "unit tests (ASan+UBSan)" $st

# libFuzzer targets, a short fixed budget each.
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Dbuildtype=debug \
		> "$log_dir/fuzz-setup.log" 2>&1
fi
if ninja -C build-fuzz > "$log_dir/fuzz-build.log" 2>&1; then
	for f in build-fuzz/fuzz/fuzz-*; do
		[ -f "$f" ] && [ -x "$f" ] || continue # skip meson's fuzz-*.p object dirs
		name=$(basename "$f")
		corpus=$top/tests/.work/fuzz/$name
		mkdir -p "$corpus"
		"$f" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 "$corpus" \
			"$top/fuzz/corpus/${name#fuzz-}" > "$log_dir/$name.log" 2>&1
		st=$?
		[ $st = 0 ] || tail -30 "$log_dir/$name.log"
		record "fuzz $name" $st
	done
else
	tail -30 "$log_dir/fuzz-build.log"
	record "fuzz build" 1
fi

# Integration tests: each script prints ok/not ok lines of its own.
for t in tests/integration/test-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	out=$log_dir/$name.log
	bash "$t" > "$out" 2>&1
	st=$?
	grep -E '^(ok|not ok) - ' "$out" | sed "s/^/  [$name] /"
	n_fail=$(grep -c '^not ok - ' "$out")
	if [ $st != 0 ] || [ "$n_fail" != 0 ]; then
		tail -40 "$out"
		record "$name" 1
	else
		record "$name" 0
	fi
done

echo
[ $failed = 0 ] || printf 'failed: %s\n' "${failed_names[@]}"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
