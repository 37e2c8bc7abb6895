#!/bin/bash
# berth exec under load: 20 execs at once all succeed with their own output, and 100 MB
# through stdin and stdout (and 100 MB made in the machine) arrive intact.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
m=exec-load-$$

busybox_machine "$m" exec-test:1 || exit 1

# --- 20 at once ---
pids=()
for i in $(seq 1 20); do
	"${B[@]}" exec "$m" -- sh -c "echo out-$i; echo err-$i >&2; exit \$(( $i % 7 ))" \
		> "$T/c$i.out" 2> "$T/c$i.err" &
	pids+=($!)
	defer_kill $!
done
bad=""
for i in $(seq 1 20); do
	wait "${pids[$((i - 1))]}"
	st=$?
	if [ $st != $((i % 7)) ] || [ "$(cat "$T/c$i.out")" != "out-$i" ] ||
		[ "$(cat "$T/c$i.err")" != "err-$i" ]; then
		bad+=" #$i(status $st: $(head -c 300 "$T/c$i.out" "$T/c$i.err" | tr '\n' ' '))"
	fi
done
[ -z "$bad" ] && ok "20 execs at once all succeed with their own output and status" ||
	fail "20 execs at once all succeed with their own output and status" "$bad"

# --- 100 MB ---
head -c 100000000 /dev/urandom > "$T/big"
want=$(sha256sum < "$T/big" | cut -d' ' -f1)
got=$("${B[@]}" exec "$m" -- cat < "$T/big" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "100 MB through stdin and stdout intact" ||
	fail "100 MB through stdin and stdout intact" "sha256 $got, want $want"
want=$(head -c 100000000 /dev/zero | tr '\0' 'x' | sha256sum | cut -d' ' -f1)
got=$("${B[@]}" exec "$m" -- sh -c "head -c 100000000 /dev/zero | tr '\\0' x" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "100 MB made in the machine arrive intact" ||
	fail "100 MB made in the machine arrive intact" "sha256 $got, want $want"
got=$("${B[@]}" exec "$m" -- sh -c "head -c 100000000 /dev/zero | tr '\\0' x >&2" 2>&1 > /dev/null |
	sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "100 MB on stderr arrive intact" ||
	fail "100 MB on stderr arrive intact" "sha256 $got, want $want"
# A command that exits right after writing: nothing written before the exit is lost.
got=$(for i in 1 2 3 4 5; do "${B[@]}" exec "$m" -- sh -c 'seq 1 20000'; done | sha256sum | cut -d' ' -f1)
want=$(for i in 1 2 3 4 5; do seq 1 20000; done | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] && ok "output written just before exit is kept" ||
	fail "output written just before exit is kept" "sha256 $got, want $want"
