#!/bin/bash
# berth exec and berth shell without a terminal: exit codes, stdin and its EOF, environment,
# -w, -u, signal forwarding, the default machine. The pty side is test-exec-pty.sh; load
# (20 at once, 100 MB) is test-exec-load.sh.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
m=exec-basic-$$

# --- a running busybox machine (on berth-init), removed at exit whatever happens ---
busybox_machine "$m" exec-test:1 || exit 1

# --- exit status ---
expect_exit 0 "true exits 0" "${B[@]}" exec "$m" -- true
expect_exit 3 "the command's status comes back" "${B[@]}" exec "$m" -- sh -c 'exit 3'
expect_exit 126 "a file that is not executable gives 126" "${B[@]}" exec "$m" -- /etc/passwd
grep -q "not executable" "$T/err" && ok "126 comes with a sentence" || fail "126 comes with a sentence" "$(cat "$T/err")"
expect_exit 127 "a command that is not there gives 127" "${B[@]}" exec "$m" -- no-such-command
grep -q "not found" "$T/err" && ok "127 comes with a sentence" || fail "127 comes with a sentence" "$(cat "$T/err")"
expect_exit 137 "kill -9 of itself gives 128+9" "${B[@]}" exec "$m" -- sh -c 'kill -9 $$'
EXPECT_MATCH="no machine called" expect_fail "a missing machine gives 125" "${B[@]}" exec no-such-machine -- true
expect_fail "no command is bad usage" "${B[@]}" exec "$m"
check "exec --help" "${B[@]}" exec --help
grep -q "Usage: berth exec" "$T/out" && ok "exec --help prints the usage" || fail "exec --help prints the usage"
check "shell --help" "${B[@]}" shell --help
grep -q "Usage: berth shell" "$T/out" && ok "shell --help prints the usage" || fail "shell --help prints the usage"

# --- stdin ---
run sh -c 'echo hi | "$@" exec '"$m"' -- cat' sh "${B[@]}"
[ $status = 0 ] && [ "$(cat "$T/out")" = hi ] && ok "stdin passes through" ||
	fail "stdin passes through" "$(_show_run)"
run sh -c 'printf "a\nb\nc\n" | "$@" exec '"$m"' -- wc -l' sh "${B[@]}"
[ "$(tr -d ' ' < "$T/out")" = 3 ] && ok "stdin EOF ends the input" || fail "stdin EOF ends the input" "$(_show_run)"
check "a command reading stdin ends at /dev/null's EOF" "${B[@]}" exec "$m" -- cat < /dev/null
run sh -c 'echo out; echo err >&2' # reference for the next check
run "${B[@]}" exec "$m" -- sh -c 'echo out; echo err >&2; exit 4'
[ $status = 4 ] && [ "$(cat "$T/out")" = out ] && [ "$(cat "$T/err")" = err ] &&
	ok "stdout and stderr stay apart" || fail "stdout and stderr stay apart" "$(_show_run)"
run sh -c '"$@" exec '"$m"' -- yes | head -n 2' sh "${B[@]}"
[ "$(cat "$T/out")" = "$(printf 'y\ny')" ] && ok "a closed reader ends the command (SIGPIPE)" ||
	fail "a closed reader ends the command (SIGPIPE)" "$(_show_run)"

# --- environment ---
check "env" env -u TERM "${B[@]}" exec "$m" -- env
envout=$(cat "$T/out")
for kv in HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 SHELL=/bin/sh \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; do
	grep -qx "$kv" <<< "$envout" && ok "environment has $kv" || fail "environment has $kv" "$envout"
done
grep -q '^TERM=' <<< "$envout" && fail "no TERM without a pty" "$envout" || ok "no TERM without a pty"
grep -q '^BERTH_ROOT=\|^SSH_\|^XDG_' <<< "$envout" && fail "the host's environment stays out" "$envout" ||
	ok "the host's environment stays out"
run env HOSTVAR=from-host "${B[@]}" exec -e FOO=bar -e LANG=de_DE.UTF-8 -e HOSTVAR -e 'SP=a b' "$m" -- \
	sh -c 'echo "$FOO|$LANG|$HOSTVAR|$SP"'
[ "$(cat "$T/out")" = "bar|de_DE.UTF-8|from-host|a b" ] && ok "-e adds, overrides and copies" ||
	fail "-e adds, overrides and copies" "$(_show_run)"
expect_fail "-e without a name is refused" "${B[@]}" exec -e =x "$m" -- true

# --- working directory ---
run "${B[@]}" exec -w /etc "$m" -- pwd
[ "$(cat "$T/out")" = /etc ] && ok "-w sets the directory" || fail "-w sets the directory" "$(_show_run)"
EXPECT_MATCH="does not exist" expect_fail "-w of a missing directory is refused" "${B[@]}" exec -w /no/such "$m" -- pwd
EXPECT_MATCH="absolute" expect_fail "-w of a relative path is refused" "${B[@]}" exec -w etc "$m" -- pwd
# The host's directory only when the machine shares it (test-host-user.sh): /tmp exists in
# the machine but is its own, so the command starts in the home.
run sh -c 'cd /tmp && "$@" exec '"$m"' -- pwd' sh "${B[@]}"
[ "$(cat "$T/out")" = /root ] && ok "an unshared host directory of the same name is not used" ||
	fail "an unshared host directory of the same name is not used" "$(_show_run)"
run sh -c 'cd "$0" && "$@" exec '"$m"' -- pwd' "$T" "${B[@]}"
[ "$(cat "$T/out")" = /root ] && ok "else the user's home" || fail "else the user's home" "$(_show_run)"

# --- users ---
run "${B[@]}" exec "$m" -- id -u
[ "$(cat "$T/out")" = 0 ] && ok "root by default" || fail "root by default" "$(_show_run)"
run "${B[@]}" exec -u nobody "$m" -- sh -c 'echo "$(id -u) $(id -g) $HOME $USER"'
[ "$(cat "$T/out")" = "65534 65534 /nonexistent nobody" ] && ok "-u NAME" || fail "-u NAME" "$(_show_run)"
run "${B[@]}" exec -u 1234:55 "$m" -- sh -c 'echo "$(id -u) $(id -g) $HOME"'
[ "$(cat "$T/out")" = "1234 55 /" ] && ok "-u UID:GID without a passwd entry" || fail "-u UID:GID without a passwd entry" "$(_show_run)"
run "${B[@]}" exec -u nobody:root "$m" -- sh -c 'echo "$(id -u) $(id -g)"'
[ "$(cat "$T/out")" = "65534 0" ] && ok "-u NAME:GROUP" || fail "-u NAME:GROUP" "$(_show_run)"
run "${B[@]}" exec -u nobody --root "$m" -- id -u
[ "$(cat "$T/out")" = 0 ] && ok "--root wins over -u" || fail "--root wins over -u" "$(_show_run)"
EXPECT_MATCH="no user 'bob'" expect_fail "-u of an unknown user is refused" "${B[@]}" exec -u bob "$m" -- true
EXPECT_MATCH="no group" expect_fail "-u with an unknown group is refused" "${B[@]}" exec -u root:nogrp "$m" -- true
expect_fail "-u with an id beyond the machine's map is refused" "${B[@]}" exec -u 70000 "$m" -- true
# A hostile /etc/passwd: an absolute symlink must resolve inside the machine, never on the
# host, where this path holds a passwd file with a user the machine does not have.
printf 'hostonly:x:4321:4321::/:/bin/sh\n' > "$T/hostpasswd"
check "replace the machine's /etc/passwd by a symlink to a host path" "${B[@]}" exec "$m" -- sh -c \
	"cp /etc/passwd /etc/passwd.real && ln -sf '$T/hostpasswd' /etc/passwd"
EXPECT_MATCH="no user 'hostonly'" expect_fail "a symlinked passwd resolves inside the machine" \
	"${B[@]}" exec -u hostonly "$m" -- true
check "restore /etc/passwd" "${B[@]}" exec "$m" -- mv /etc/passwd.real /etc/passwd
run "${B[@]}" exec -u nobody "$m" -- id -u
[ "$(cat "$T/out")" = 65534 ] && ok "users resolve again after the restore" ||
	fail "users resolve again after the restore" "$(_show_run)"

# --- signals sent to berth reach the command ---
# setsid env --default-signal: berth runs with default dispositions (a background job of a
# script starts with SIGINT ignored, and berth keeps ignored signals ignored, as nohup wants).
for sig in TERM HUP INT; do
	out=$T/sig-$sig
	setsid env --default-signal "${B[@]}" exec "$m" -- sh -c "trap 'echo got $sig; exit 5' $sig; echo ready; while :; do sleep 1; done" > "$out" 2>&1 &
	pid=$!
	defer_kill $pid
	if wait_until 30 grep -qs ready "$out"; then
		kill -s $sig $pid
		wait $pid
		st=$?
		[ $st = 5 ] && grep -q "got $sig" "$out" && ok "SIG$sig is forwarded" ||
			fail "SIG$sig is forwarded" "exit status $st" "$(cat "$out")"
	else
		fail "SIG$sig is forwarded" "the command did not start" "$(cat "$out")"
	fi
done
setsid env --default-signal "${B[@]}" exec "$m" -- sh -c 'echo ready; exec sleep 1000' > "$T/sig-kill" 2>&1 &
pid=$!
defer_kill $pid
if wait_until 30 grep -qs ready "$T/sig-kill"; then
	kill -TERM $pid
	wait $pid
	st=$?
	[ $st = 143 ] && ok "a command killed by a forwarded SIGTERM gives 143" ||
		fail "a command killed by a forwarded SIGTERM gives 143" "exit status $st"
else
	fail "a command killed by a forwarded SIGTERM gives 143" "the command did not start"
fi

# Started with SIGHUP ignored (nohup), berth does not pass SIGHUP on.
setsid env --default-signal --ignore-signal=HUP "${B[@]}" exec "$m" -- sh -c \
	"trap 'echo got HUP' HUP; trap 'echo got TERM; exit 5' TERM; echo ready; while :; do sleep 1; done" \
	> "$T/sig-nohup" 2>&1 &
pid=$!
defer_kill $pid
if wait_until 30 grep -qs ready "$T/sig-nohup"; then
	kill -HUP $pid
	kill -TERM $pid
	wait $pid
	st=$?
	[ $st = 5 ] && ! grep -q "got HUP" "$T/sig-nohup" && ok "an ignored SIGHUP stays ignored (nohup)" ||
		fail "an ignored SIGHUP stays ignored (nohup)" "exit status $st" "$(cat "$T/sig-nohup")"
else
	fail "an ignored SIGHUP stays ignored (nohup)" "the command did not start"
fi

# --- shell ---
run sh -c 'cd /tmp && echo "echo \$0; pwd; exit 6" | "$@" shell '"$m" sh "${B[@]}"
[ $status = 6 ] && [ "$(sed -n 2p "$T/out")" = /root ] && ok "shell runs the user's shell in its home" ||
	fail "shell runs the user's shell in its home" "$(_show_run)"
run sh -c 'echo "pwd" | "$@" shell' sh "${B[@]}"
[ $status = 0 ] && [ -n "$(cat "$T/out")" ] && ok "shell without NAME uses the default machine" ||
	fail "shell without NAME uses the default machine" "$(_show_run)"
run sh -c 'echo "echo via-default" | "$@" exec -- sh' sh "${B[@]}"
[ "$(cat "$T/out")" = via-default ] && ok "exec -- CMD uses the default machine" ||
	fail "exec -- CMD uses the default machine" "$(_show_run)"
check "a shell as a user without a login shell falls back to /bin/sh" "${B[@]}" exec "$m" -- sh -c \
	'echo "tester:x:1000:1000::/home/tester:/bin/no-such-shell" >> /etc/passwd && mkdir -p /home/tester'
run "${B[@]}" exec -u tester "$m" -- sh -c 'echo $SHELL'
[ "$(cat "$T/out")" = /bin/sh ] && ok "SHELL falls back to /bin/sh" || fail "SHELL falls back to /bin/sh" "$(_show_run)"

# --- a stopped machine ---
check "stop the machine" "${B[@]}" stop "$m"
EXPECT_MATCH="not running" expect_fail "exec into a stopped machine is refused" "${B[@]}" exec "$m" -- true
