#!/bin/bash
# berth exec and berth shell in a terminal, driven through tests/pty-harness: the pty is the
# machine's own (/dev/pts/N), Ctrl-C reaches the process, the window size follows resizes,
# and the host terminal's modes come back on every way out (the harness checks them and
# exits 123 when they did not).
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
H=$top/tests/pty-harness
m=exec-pty-$$

busybox_machine "$m" exec-test:1 || exit 1

# harness NAME CODE STEPS... -- CMD: run the harness, ok when it exits CODE.
harness() {
	local name=$1 code=$2
	shift 2
	run "$H" --log "$T/transcript" "$@"
	if [ $status -eq "$code" ]; then ok "$name"; else
		fail "$name" "expected exit status $code" "$(_show_run)" "transcript:" "$(cat -v "$T/transcript")"
	fi
}

harness "tty shows the machine's pts" 0 --expect '/dev/pts/[0-9]+' -- "${B[@]}" exec "$m" -- tty
harness "TERM comes from the host with a pty" 0 --expect 'term=xterm-256color' -- \
	env TERM=xterm-256color "${B[@]}" exec "$m" -- sh -c 'echo term=$TERM'
harness "Ctrl-C ends sleep with 130" 130 --expect started --send '\x03' -- \
	"${B[@]}" exec "$m" -- sh -c 'echo started; exec sleep 100'
# The job prints go-2 once it runs in the foreground (its echoed command line shows
# go-$((1+1)), so the match is the output, not the echo).
harness "Ctrl-C in a shell interrupts its foreground job" 9 --expect '# ' \
	--send "sh -c 'echo go-\$((1+1)); exec sleep 100'\\r" --expect 'go-2' --send '\x03' \
	--expect '# ' --send 'echo status=$?\r' --expect 'status=130' --send 'exit 9\r' -- \
	"${B[@]}" exec "$m" -- sh
harness "the window size is set at start and follows resizes" 7 --size 24x80 --expect '# ' \
	--send 'stty size\r' --expect '24 80' --resize 40x100 --send 'stty size\r' --expect '40 100' \
	--send 'exit 7\r' -- "${B[@]}" exec "$m" -- sh
harness "-T gives no pty even in a terminal" 1 --expect 'not a tty' -- "${B[@]}" exec -T "$m" -- tty
harness "a pty session's input ends with Ctrl-D" 0 --expect 'ready' --send 'line one\r' \
	--expect 'line one' --send '\x04' --expect 'lines=1' -- \
	"${B[@]}" exec "$m" -- sh -c 'echo ready; echo lines=$(wc -l)'
harness "SIGTERM to berth is forwarded in a pty session" 143 --expect started --signal TERM -- \
	"${B[@]}" exec "$m" -- sh -c 'echo started; exec sleep 100'
harness "shell opens a login shell in the user's home" 4 --expect '# ' \
	--send 'echo "[$(pwd)] [$0]"\r' --expect '\[/root\] \[(/bin/)?sh\]' --send 'exit 4\r' -- \
	sh -c 'cd /tmp && exec "$@" shell '"$m" sh "${B[@]}"

# -t without a terminal on stdin: piped input goes through the pty, ended by the terminal's
# EOF character.
run sh -c 'printf "echo piped\nexit 3\n" | "$@" exec -t '"$m"' -- sh' sh "${B[@]}"
[ $status = 3 ] && grep -q piped "$T/out" && ok "-t with piped input" || fail "-t with piped input" "$(_show_run)"
run sh -c 'printf "a\nb\n" | "$@" exec -t '"$m"' -- sh -c "wc -l"' sh "${B[@]}"
[ $status = 0 ] && grep -q '^ *2' "$T/out" && ok "-t ends piped input with EOF" || fail "-t ends piped input with EOF" "$(_show_run)"
