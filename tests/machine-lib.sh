# shellcheck shell=bash
# Sourced by the machine tests after tests/lib.sh, with $root set to the test's berth root
# and B=("$BERTH" --root "$root"). Gives:
#   machine NAME        remove machine NAME at exit (berth rm -f), whatever happens
#   track NAME          after a start: kill its monitor and init at exit, by recorded pid,
#                       only while each is still the same process (same start time)
#   state NAME FIELD    a field of the machine's state.json
#   is_stopped NAME     the state says stopped
#   cgroup_dirs NAME    the machine's cgroup directories on this host (any hierarchy)
#   busybox_machine NAME TAG   import the busybox fixture as TAG, create and start NAME
_kill_if_same() {
	[ -n "$2" ] && [ "$(awk '{print $22}' "/proc/$1/stat" 2> /dev/null)" = "$2" ] &&
		kill -9 "$1" 2> /dev/null
	return 0
}
track() {
	local pid st
	for pid in $(jq -r '.monitor_pid, .init_pid' "$root/machines/$1/state.json" 2> /dev/null); do
		[ "$pid" -gt 1 ] 2> /dev/null || continue
		st=$(awk '{print $22}' "/proc/$pid/stat" 2> /dev/null)
		defer _kill_if_same "$pid" "$st"
	done
}
_rm_quietly() { "${B[@]}" rm -f "$1" > /dev/null 2>&1 || true; }
machine() { defer _rm_quietly "$1"; }
state() { jq -r ".$2" "$root/machines/$1/state.json" 2> /dev/null; }
is_stopped() { [ "$(state "$1" status)" = stopped ]; }
cgroup_dirs() { find /sys/fs/cgroup -maxdepth 5 -type d -name "berth-$1" 2> /dev/null; }

busybox_machine() {
	local name=$1 tag=$2 bb
	bb=$(busybox_fixture) || {
		fail "busybox fixture builds"
		return 1
	}
	check "import busybox" "${B[@]}" -q image import "$bb/oci:busybox" --tag "$tag"
	machine "$name"
	check "create and start a machine" "${B[@]}" create --start "$name" "$tag"
	[ "$status" = 0 ] || return 1
	track "$name"
}
