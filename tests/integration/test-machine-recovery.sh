#!/bin/bash
# Machines survive what goes wrong around them: a monitor killed with SIGKILL (the init and
# the cgroup must not leak; the next ls/start cleans up; files persist), two starts of one
# machine at once (one wins, the other says so, nothing breaks), a start that times out,
# and an init that fails (the error shows the console).
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")

# gone PID: no such process, or a zombie waiting for the host's init to reap it.
gone() { [ ! -d "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null)" = Z ]; }

bb=$(busybox_fixture) || {
	fail "busybox fixture builds"
	exit 1
}
check "import busybox" "${B[@]}" -q image import "$bb/oci:busybox" --tag rbb:1

# --- a monitor killed with SIGKILL ---
m=rec1
machine $m
check "create and start" "${B[@]}" create --start $m rbb:1
track $m
check "write a file" "${B[@]}" exec $m -- sh -c 'echo before-kill > /etc/marker'
mon=$(state $m monitor_pid)
init=$(state $m init_pid)
check "a process in the machine" "${B[@]}" exec $m -- sh -c 'sleep 1000 > /dev/null 2>&1 &'
kill -9 "$mon"
wait_until 10 gone "$mon" && ok "the monitor is dead" || fail "the monitor is dead"
check "ls -a after the monitor died" "${B[@]}" ls -a --json
[ "$(jq -r ".[] | select(.name == \"$m\") | .status" "$T/out")" = stopped ] &&
	ok "the machine shows as stopped" || fail "the machine shows as stopped" "$(cat "$T/out")"
wait_until 10 gone "$init" && ok "ls killed the orphaned init" || fail "ls killed the orphaned init" "$(ps -o pid,stat,cmd -p "$init")"
[ -z "$(cgroup_dirs $m)" ] && ok "and removed its cgroup (with the sleep in it)" || fail "and removed its cgroup" "$(cgroup_dirs $m)"
[ "$(state $m status)" = stopped ] && ok "state.json records it stopped" || fail "state.json records it stopped" "$(cat "$root/machines/$m/state.json")"
check "start after the crash" "${B[@]}" start $m
track $m
run "${B[@]}" exec $m -- cat /etc/marker
[ "$(cat "$T/out")" = before-kill ] && ok "files survive a killed monitor" || fail "files survive a killed monitor" "$(_show_run)"

# Killed again; this time the next start (not ls) finds the leftovers.
mon=$(state $m monitor_pid)
init=$(state $m init_pid)
kill -9 "$mon"
wait_until 10 gone "$mon"
check "start right after the monitor was killed" "${B[@]}" start $m
track $m
gone "$init" && ok "the old init is gone" || fail "the old init is gone"
[ "$(state $m init_pid)" != "$init" ] && ok "a new init runs" || fail "a new init runs"
check "exec in the restarted machine" "${B[@]}" exec $m -- cat /etc/marker
check "stop" "${B[@]}" stop $m

# --- two starts at once ---
for round in 1 2 3; do
	"${B[@]}" start $m > "$T/s1.out" 2> "$T/s1.err" &
	p1=$!
	"${B[@]}" start $m > "$T/s2.out" 2> "$T/s2.err" &
	p2=$!
	wait $p1
	s1=$?
	wait $p2
	s2=$?
	track $m
	if { [ $s1 = 0 ] && [ $s2 = 125 ]; } || { [ $s1 = 125 ] && [ $s2 = 0 ]; }; then
		ok "concurrent starts, round $round: one wins"
	else
		fail "concurrent starts, round $round: one wins" "statuses $s1 $s2" "$(cat "$T"/s?.err)"
	fi
	grep -qE "already (running|starting)" "$T/s1.err" "$T/s2.err" &&
		ok "round $round: the other says it is running or starting" ||
		fail "round $round: the other says it is running or starting" "$(cat "$T"/s?.err)"
	# Monitors by name: their network helpers are forks with the same command line.
	n=0
	for p in $(pgrep -f "berth-monitor .*/$(basename "$T")/root $m " || true); do
		[ "$(cat "/proc/$p/comm" 2> /dev/null)" = berth-monitor ] && n=$((n + 1))
	done
	[ "$n" = 1 ] && ok "round $round: one monitor" || fail "round $round: one monitor" "found $n"
	run "${B[@]}" exec $m -- cat /etc/marker
	[ "$(cat "$T/out")" = before-kill ] && ok "round $round: the machine works" || fail "round $round: the machine works" "$(_show_run)"
	check "round $round: stop" "${B[@]}" stop $m
done

# --- a start that fails shows the console ---
m=rec2
machine $m
check "create a machine" "${B[@]}" create $m rbb:1
upper=$("${B[@]}" inspect $m | jq -r .paths.upper)
# A sysvinit-looking init (the /dev/initctl marker) that complains and exits at once.
mkdir -p "$upper/sbin"
printf '#!/bin/sh\n# /dev/initctl\necho "custom init: cannot go on"\nexit 3\n' > "$upper/sbin/init"
chmod 755 "$upper/sbin/init"
run "${B[@]}" start $m
track $m
[ $status = 125 ] && ok "a failing init fails the start" || fail "a failing init fails the start" "$(_show_run)"
grep -q "custom init: cannot go on" "$T/err" && ok "the error shows the console lines" || fail "the error shows the console lines" "$(_show_run)"
grep -q "exited with status 3" "$T/err" && ok "the error says how the init ended" || fail "the error says how the init ended" "$(_show_run)"
wait_until 10 is_stopped $m && ok "the machine is stopped after it" || fail "the machine is stopped after it"
[ -z "$(cgroup_dirs $m)" ] && ok "no cgroup is left" || fail "no cgroup is left" "$(cgroup_dirs $m)"

# --- a start that times out: a "systemd" that never reports READY=1 ---
rm -f "$upper/sbin/init"
mkdir -p "$upper/lib/systemd"
printf '#!/bin/sh\necho "slow init is thinking"\nexec sleep 1000\n' > "$upper/lib/systemd/systemd"
chmod 755 "$upper/lib/systemd/systemd"
ln -s /lib/systemd/systemd "$upper/sbin/init"
run "${B[@]}" start --timeout 2 $m
track $m
[ $status = 125 ] && ok "a machine that is never ready fails the start" || fail "a machine that is never ready fails the start" "$(_show_run)"
grep -q "did not become ready within 2 seconds" "$T/err" && grep -q "slow init is thinking" "$T/err" &&
	ok "the error says so, with the console" || fail "the error says so, with the console" "$(_show_run)"
wait_until 20 is_stopped $m && ok "the machine that timed out is stopped" ||
	fail "the machine that timed out is stopped" "$(cat "$root/machines/$m/state.json")"
[ -z "$(cgroup_dirs $m)" ] && ok "and its cgroup is gone" || fail "and its cgroup is gone" "$(cgroup_dirs $m)"
