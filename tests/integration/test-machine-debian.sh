#!/bin/bash
# A Debian bookworm machine booting real systemd as PID 1: it reaches running, a unit can
# be started, everything written (users, /etc, /root, /var, enabled units) survives stop
# and start, a reboot from inside and a monitor killed with SIGKILL; stop uses systemd's own
# signal; limits change on the running machine; stats and reclaim see and free page cache.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
m=deb-$$

deb=$(debian_fixture) || {
	fail "debian fixture builds"
	exit 1
}
check "import debian" "${B[@]}" -q image import "$deb" --tag mdeb:1
machine "$m"
check "create" "${B[@]}" create "$m" mdeb:1
run "${B[@]}" inspect "$m"
[ "$(jq -r .init.kind "$T/out")" = systemd ] && ok "init detected as systemd" ||
	fail "init detected as systemd" "$(_show_run)"
check "start" "${B[@]}" start "$m"
track "$m"

# sysrun: systemd's own view of the boot, once it has settled.
sysrun() { "${B[@]}" exec "$m" -- systemctl is-system-running --wait 2> /dev/null; }
st=$(sysrun)
case $st in running | degraded) ok "systemd reports $st" ;; *) fail "systemd reports running" "state '$st'; $("${B[@]}" exec "$m" -- systemctl --failed --no-legend 2>&1)" ;; esac
[ "$(state "$m" status)" = running ] && ok "state.json says running" || fail "state.json says running"
run "${B[@]}" exec "$m" -- cat /proc/1/comm
[ "$(cat "$T/out")" = systemd ] && ok "systemd is PID 1" || fail "systemd is PID 1" "$(_show_run)"
run "${B[@]}" exec "$m" -- hostname
[ "$(cat "$T/out")" = "$m" ] && ok "the hostname is the machine's name" || fail "the hostname is the machine's name" "$(_show_run)"
run "${B[@]}" exec "$m" -- cat /proc/self/uid_map
read -r inside outside count < "$T/out"
[ "$inside" = 0 ] && [ "$outside" != 0 ] && [ "$count" -le 65536 ] &&
	ok "machine root is not host root (uid 0 -> $outside)" || fail "machine root is not host root" "$(_show_run)"
run "${B[@]}" exec "$m" -- systemd-detect-virt --container
[ -n "$(cat "$T/out")" ] && [ "$(cat "$T/out")" != none ] && ok "systemd knows it runs in a container ($(cat "$T/out"))" ||
	fail "systemd knows it runs in a container" "$(_show_run)"

# --- a unit started and enabled ---
unit='[Unit]
Description=berth test unit
[Service]
ExecStart=/bin/sh -c "echo started >> /var/lib/berth-unit.log; exec sleep infinity"
[Install]
WantedBy=multi-user.target'
check "write a unit" "${B[@]}" exec "$m" -- sh -c "printf '%s\n' '$unit' > /etc/systemd/system/berth-test.service"
check "enable --now the unit" "${B[@]}" exec "$m" -- systemctl enable --now berth-test.service
run "${B[@]}" exec "$m" -- systemctl is-active berth-test.service
[ "$(cat "$T/out")" = active ] && ok "the unit is active" || fail "the unit is active" "$(_show_run)"

# --- things written everywhere ---
check "add a user" "${B[@]}" exec "$m" -- useradd -m -s /bin/bash alice
check "write files" "${B[@]}" exec "$m" -- sh -c \
	'echo etc > /etc/berth-marker && echo root > /root/marker && mkdir -p /var/lib/berth-test && echo var > /var/lib/berth-test/marker && echo home > /home/alice/marker && chown alice: /home/alice/marker'
persisted() { # persisted WHEN: every change is still there
	local when=$1 out
	run "${B[@]}" exec "$m" -- sh -c 'id -u alice; cat /etc/berth-marker /root/marker /var/lib/berth-test/marker /home/alice/marker; stat -c %U /home/alice/marker'
	out=$(tr '\n' ' ' < "$T/out")
	[[ $out =~ ^[0-9]+\ etc\ root\ var\ home\ alice\ $ ]] && ok "$when: users and files persist" ||
		fail "$when: users and files persist" "$(_show_run)"
	wait_until 30 unit_active && ok "$when: the enabled unit runs again" ||
		fail "$when: the enabled unit runs again" "$("${B[@]}" exec "$m" -- systemctl status berth-test.service 2>&1 | head -20)"
}
unit_active() { [ "$("${B[@]}" exec "$m" -- systemctl is-active berth-test.service 2> /dev/null)" = active ]; }

# --- stop with systemd's signal, start again ---
init_pid=$(state "$m" init_pid)
check "stop" "${B[@]}" stop "$m"
[ "$(state "$m" status)" = stopped ] && ok "stopped" || fail "stopped"
grep -q "stopping machine $m (signal $(($(kill -l SIGRTMIN) + 3))" "$root/machines/$m/console.log" &&
	ok "stop sends SIGRTMIN+3" || fail "stop sends SIGRTMIN+3" "$(tail -5 "$root/machines/$m/console.log")"
grep -q "killing\|did not stop in time" "$root/machines/$m/console.log" &&
	fail "systemd shut down by itself, no SIGKILL" "$(tail -5 "$root/machines/$m/console.log")" ||
	ok "systemd shut down by itself, no SIGKILL"
grep -q "machine $m stopped: the init halted the machine" "$root/machines/$m/console.log" &&
	ok "the log says the init halted" || fail "the log says the init halted" "$(tail -3 "$root/machines/$m/console.log")"
[ ! -d "/proc/$init_pid" ] || [ "$(awk '{print $3}' "/proc/$init_pid/stat" 2> /dev/null)" = Z ] &&
	ok "the old init is gone" || fail "the old init is gone"
[ -z "$(cgroup_dirs "$m")" ] && ok "no cgroup after stop" || fail "no cgroup after stop" "$(cgroup_dirs "$m")"
check "start again" "${B[@]}" start "$m"
track "$m"
persisted "after stop and start"

# --- a reboot from inside ---
old=$(state "$m" init_pid)
"${B[@]}" exec "$m" -- systemctl reboot > /dev/null 2>&1
# Status and init from one read of state.json: two reads could pair the old boot's
# "running" with the new boot's init while it is still starting.
rebooted() {
	local s
	s=$(jq -r '"\(.status) \(.init_pid)"' "$root/machines/$m/state.json" 2> /dev/null)
	[ "${s%% *}" = running ] && [ "${s#* }" != "$old" ]
}
wait_until 60 rebooted && ok "systemctl reboot boots the machine again" ||
	fail "systemctl reboot boots the machine again" "$(cat "$root/machines/$m/state.json"; tail -5 "$root/machines/$m/console.log")"
track "$m"
grep -q "machine $m is rebooting" "$root/machines/$m/console.log" && ok "the log records the reboot" ||
	fail "the log records the reboot"
persisted "after a reboot"

# --- a monitor killed with SIGKILL ---
mon=$(state "$m" monitor_pid)
kill -9 "$mon"
gone_monitor() { [ ! -d "/proc/$mon" ] || [ "$(awk '{print $3}' "/proc/$mon/stat" 2> /dev/null)" = Z ]; }
wait_until 10 gone_monitor && ok "the monitor is killed" || fail "the monitor is killed"
check "start after the monitor was killed" "${B[@]}" start "$m"
track "$m"
persisted "after a killed monitor"

# --- limits on the running machine ---
memfile=$(for d in $(cgroup_dirs "$m"); do
	for f in memory.max memory.limit_in_bytes; do [ -f "$d/$f" ] && echo "$d/$f"; done
done | head -1)
check "set memory=512M cpus=1 pids=500 while running" "${B[@]}" set "$m" memory=512M cpus=1 pids=500
[ "$(cat "$memfile")" = 536870912 ] && ok "the memory limit is in the cgroup at once" ||
	fail "the memory limit is in the cgroup at once" "$memfile: $(cat "$memfile")"
run "${B[@]}" stats --json "$m"
[ "$(jq -r '.memory.limit, .cpu.limit_millis, .pids.limit' "$T/out" | tr '\n' ' ')" = "536870912 1000 500 " ] &&
	ok "stats shows the new limits" || fail "stats shows the new limits" "$(_show_run)"
run "${B[@]}" exec "$m" -- systemctl is-active berth-test.service
[ "$(cat "$T/out")" = active ] && ok "the machine kept running through set" || fail "the machine kept running through set" "$(_show_run)"
EXPECT_MATCH="memory" expect_fail "a bad memory value is refused" "${B[@]}" set "$m" memory=lots
EXPECT_MATCH="not a setting" expect_fail "an unknown key is refused" "${B[@]}" set "$m" colour=blue
check "set memory=none" "${B[@]}" set "$m" memory=none
run cat "$memfile"
[ "$(cat "$T/out")" != 536870912 ] && ok "memory=none lifts the limit" || fail "memory=none lifts the limit" "$(_show_run)"
run jq -r .limits.memory "$root/machines/$m/config.json"
[ "$(cat "$T/out")" = 0 ] && ok "the change is saved for the next start" || fail "the change is saved for the next start" "$(_show_run)"

# --- page cache: stats sees it, reclaim frees it ---
check "fill page cache with 200 MB" "${B[@]}" exec "$m" -- sh -c 'head -c 200M /dev/zero > /var/tmp/cache-fill && sync'
run "${B[@]}" stats --json "$m"
before=$(jq -r .memory.file "$T/out")
[ "$before" -ge $((150 * 1024 * 1024)) ] && ok "stats counts the page cache ($before bytes)" ||
	fail "stats counts the page cache" "$(_show_run)"
run "${B[@]}" reclaim --json "$m"
freed=$(jq -r .freed "$T/out")
[ "$freed" -ge $((100 * 1024 * 1024)) ] && ok "reclaim reports what it freed ($freed bytes)" ||
	fail "reclaim reports what it freed" "$(_show_run)"
run "${B[@]}" stats --json "$m"
after=$(jq -r .memory.file "$T/out")
[ "$after" -le $((before - 100 * 1024 * 1024)) ] && ok "the page cache shrank ($before -> $after)" ||
	fail "the page cache shrank" "$before -> $after"
run "${B[@]}" exec "$m" -- systemctl is-active berth-test.service
[ "$(cat "$T/out")" = active ] && ok "the machine kept running through reclaim" || fail "the machine kept running through reclaim" "$(_show_run)"
run "${B[@]}" reclaim "$m"
grep -q "from machine $m" "$T/out" && ok "reclaim prints a sentence" || fail "reclaim prints a sentence" "$(_show_run)"

# --- rm ---
EXPECT_MATCH="rm -f" expect_fail "rm of the running machine needs -f" "${B[@]}" rm "$m"
check "rm -f" "${B[@]}" rm -f "$m"
[ ! -e "$root/machines/$m" ] && ok "rm deletes the machine's state" || fail "rm deletes the machine's state"
[ -z "$(cgroup_dirs "$m")" ] && ok "no cgroup after rm" || fail "no cgroup after rm" "$(cgroup_dirs "$m")"
awk -v d="$root/" 'index($2, d) == 1' /proc/self/mounts | grep -q . &&
	fail "no mount is left" "$(awk -v d="$root/" 'index($2, d) == 1' /proc/self/mounts)" || ok "no mount is left"
