#!/bin/bash
# Machine lifecycle on busybox images: create (names, --init, missing images), start on
# busybox init and on berth-init, stop/start persistence, ls/inspect/logs/default, stop
# signals, rm (running needs -f, the image hold goes), and clean-up everywhere.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")

bb=$(busybox_fixture) || {
	fail "busybox fixture builds"
	exit 1
}
check "import busybox" "${B[@]}" -q image import "$bb/oci:busybox" --tag mbb:1
digest=$(store_ref_digest "$root" docker.io/library/mbb:1)
# The same root filesystem without any init: machines of it boot berth-init.
cp "$bb/rootfs.tar" "$T/noinit.tar" && tar --delete -f "$T/noinit.tar" ./sbin/init
check "import an image with no init" "${B[@]}" -q image import "$T/noinit.tar" --tag noinit:1

# --- create ---
for bad in Bad UPPER -lead trail- 'a_b' "$(printf 'x%.0s' {1..64})" ''; do
	EXPECT_MATCH="not a valid machine name" expect_fail "name '$bad' is refused" \
		"${B[@]}" create -- "$bad" mbb:1
done
EXPECT_MATCH="not in the store.*pull" expect_fail "a missing image says to pull it" \
	"${B[@]}" create m1 no-such-image:1
[ ! -e "$root/machines/m1" ] && ok "a failed create leaves nothing" || fail "a failed create leaves nothing"
EXPECT_MATCH="has no init" expect_fail "--init image without an init fails at create" \
	"${B[@]}" create --init image m1 noinit:1
[ ! -e "$root/machines/m1" ] && ok "... and leaves nothing" || fail "... and leaves nothing"
expect_fail "--init with a bad mode is refused" "${B[@]}" create --init magic m1 mbb:1
expect_fail "--memory with a bad size is refused" "${B[@]}" create --memory lots m1 mbb:1

machine bb1
check "create bb1" "${B[@]}" create bb1 mbb:1
EXPECT_MATCH="already exists" expect_fail "a second bb1 is refused" "${B[@]}" create bb1 mbb:1
check "ls -a --json" "${B[@]}" ls -a --json
[ "$(jq -r '.[] | select(.name == "bb1") | .status' "$T/out")" = created ] &&
	ok "a new machine is 'created'" || fail "a new machine is 'created'" "$(cat "$T/out")"
check "ls (running only)" "${B[@]}" ls -q
[ ! -s "$T/out" ] && ok "ls hides machines that do not run" || fail "ls hides machines that do not run" "$(cat "$T/out")"
[ -f "$root/holds/machine-bb1" ] && grep -q "$digest" "$root/holds/machine-bb1" &&
	ok "the machine holds its image" || fail "the machine holds its image" "$(ls "$root/holds" 2>&1)"
run "${B[@]}" default
[ "$(cat "$T/out")" = bb1 ] && ok "the first machine becomes the default" || fail "the first machine becomes the default" "$(_show_run)"

# --- start on busybox init ---
check "start (default machine)" "${B[@]}" start
track bb1
[ "$(state bb1 status)" = running ] && ok "state.json says running" || fail "state.json says running" "$(cat "$root/machines/bb1/state.json")"
check "inspect" "${B[@]}" inspect bb1
jq -e '.status == "running" and .init.kind == "busybox" and .processes.init_pid > 1 and
	(.paths.upper | test("/machines/bb1/upper$")) and (.cgroups | length > 0)' "$T/out" > /dev/null &&
	ok "inspect shows state, init, paths and cgroups" || fail "inspect shows state, init, paths and cgroups" "$(cat "$T/out")"
EXPECT_MATCH="already running" expect_fail "a second start says it runs" "${B[@]}" start bb1
check "exec writes a file" "${B[@]}" exec bb1 -- sh -c 'echo kept > /root/kept; mkdir -p /var/lib/x && echo v > /var/lib/x/f'
run "${B[@]}" exec bb1 -- hostname
[ "$(cat "$T/out")" = bb1 ] && ok "the hostname is the machine's name" || fail "the hostname is the machine's name" "$(_show_run)"
[ -n "$(cgroup_dirs bb1)" ] && ok "the machine has a cgroup" || fail "the machine has a cgroup"
# In every hierarchy, cgroup2 too (where the init and exec's helper are cloned into the
# cgroup rather than moved): the init in berth-bb1 as the host sees it, an exec'd process
# at its machine's cgroup root as the machine sees it (a process outside shows "/..").
# (The 0:: line is there even where no cgroup2 is mounted, and berth does not use it then.)
if grep -q ' cgroup2 ' /proc/self/mounts; then no_v2=NONE; else no_v2='^0::'; fi
init_cg=$(grep -v "$no_v2" "/proc/$(state bb1 init_pid)/cgroup")
[ -n "$init_cg" ] && ! echo "$init_cg" | grep -v '/berth-bb1$' > /dev/null &&
	{ [ "$no_v2" != NONE ] || echo "$init_cg" | grep -q '^0::'; } &&
	ok "the init is in the machine's cgroup in every hierarchy" ||
	fail "the init is in the machine's cgroup in every hierarchy" "$init_cg"
run "${B[@]}" exec bb1 -- cat /proc/self/cgroup
sed -i "/$no_v2/d" "$T/out"
[ "$(grep -c . "$T/out")" = "$(echo "$init_cg" | grep -c .)" ] && ! grep -v ':/$' "$T/out" > /dev/null &&
	ok "an exec'd process is in the machine's cgroup in every hierarchy" ||
	fail "an exec'd process is in the machine's cgroup in every hierarchy" "$(_show_run)"
check "logs" "${B[@]}" logs bb1
grep -q "machine bb1 is running" "$T/out" && ok "logs show the start" || fail "logs show the start" "$(cat "$T/out")"
check "logs -n 1" "${B[@]}" logs -n 1 bb1
[ "$(wc -l < "$T/out")" -le 1 ] && ok "logs -n 1 prints one line" || fail "logs -n 1 prints one line" "$(cat "$T/out")"
EXPECT_MATCH="running.*rm -f" expect_fail "rm of a running machine needs -f" "${B[@]}" rm bb1

# --- stop and start: everything in upper/ stays ---
init=$(state bb1 init_pid)
check "stop" "${B[@]}" stop bb1
[ "$(state bb1 status)" = stopped ] && ok "state.json says stopped" || fail "state.json says stopped"
[ ! -d "/proc/$init" ] || [ "$(awk '{print $3}' "/proc/$init/stat")" = Z ] &&
	ok "the init is gone" || fail "the init is gone" "$(cat "/proc/$init/status" 2>&1 | head -3)"
[ -z "$(cgroup_dirs bb1)" ] && ok "the cgroup is gone" || fail "the cgroup is gone" "$(cgroup_dirs bb1)"
[ ! -e "$root/machines/bb1/control.sock" ] && ok "the control socket is gone" || fail "the control socket is gone"
grep -q "machine bb1 stopped" "$root/machines/bb1/console.log" && ok "the log records the stop" || fail "the log records the stop"
run "${B[@]}" stop bb1
[ $status = 0 ] && grep -q "not running" "$T/err" && ok "stopping a stopped machine is fine" || fail "stopping a stopped machine is fine" "$(_show_run)"
EXPECT_MATCH="not running.*berth start" expect_fail "exec in a stopped machine says to start it" "${B[@]}" exec bb1 -- true
check "start again" "${B[@]}" start bb1
track bb1
run "${B[@]}" exec bb1 -- cat /root/kept /var/lib/x/f
[ "$(cat "$T/out")" = "$(printf 'kept\nv')" ] && ok "files survive stop and start" || fail "files survive stop and start" "$(_show_run)"
check "restart" "${B[@]}" restart bb1
track bb1
run "${B[@]}" exec bb1 -- cat /root/kept
[ "$(cat "$T/out")" = kept ] && ok "files survive restart" || fail "files survive restart" "$(_show_run)"
check "stop --time 0 (SIGKILL right after the stop signal)" "${B[@]}" stop --time 0 bb1
check "start after a quick stop" "${B[@]}" start bb1
track bb1
check "stop --force" "${B[@]}" stop --force bb1
grep -q "killing machine bb1" "$root/machines/bb1/console.log" && ok "--force kills" || fail "--force kills"

# --- berth-init: images without an init, and --init builtin ---
machine noinit
check "create from an image without init" "${B[@]}" create noinit noinit:1
check "start it" "${B[@]}" start noinit
track noinit
run "${B[@]}" inspect noinit
[ "$(jq -r .init.kind "$T/out")" = berth-init ] && ok "it boots berth-init" || fail "it boots berth-init" "$(jq .init "$T/out")"
run "${B[@]}" exec noinit -- sh -c 'cat /proc/1/cmdline | tr "\0" " "'
grep -q "/run/host/berth-init" "$T/out" && ok "berth-init is PID 1" || fail "berth-init is PID 1" "$(_show_run)"
machine forced
check "create --init builtin --start from an image with an init" "${B[@]}" create --init builtin --start forced mbb:1
track forced
run "${B[@]}" ls --json
[ "$(jq -r '.[] | select(.name == "forced") | .init' "$T/out")" = berth-init ] &&
	ok "--init builtin boots berth-init" || fail "--init builtin boots berth-init" "$(cat "$T/out")"
[ "$(jq -r '[.[].name] | sort | join(",")' "$T/out")" = "forced,noinit" ] &&
	ok "ls lists the running machines" || fail "ls lists the running machines" "$(cat "$T/out")"

# --- default ---
check "default noinit" "${B[@]}" default noinit
check "stop without a name stops the default" "${B[@]}" stop
[ "$(state noinit status)" = stopped ] && ok "... the default one" || fail "... the default one"
EXPECT_MATCH="no machine called" expect_fail "default of a missing machine is refused" "${B[@]}" default nope

# --- rm ---
check "rm -f of a running machine" "${B[@]}" rm -f forced
[ ! -e "$root/machines/forced" ] && ok "its state directory is gone" || fail "its state directory is gone"
[ -z "$(cgroup_dirs forced)" ] && ok "its cgroup is gone" || fail "its cgroup is gone"
[ ! -e "$root/holds/machine-forced" ] && ok "its image hold is gone" || fail "its image hold is gone"
check "rm of a stopped machine" "${B[@]}" rm noinit
run "${B[@]}" default
[ $status = 125 ] && ok "removing the default machine clears the default" || fail "removing the default machine clears the default" "$(_show_run)"
EXPECT_MATCH="no machine called" expect_fail "rm of a missing machine" "${B[@]}" rm noinit
for v in create start stop restart rm ls inspect logs set default stats reclaim; do
	run "${B[@]}" "$v" --help
	[ $status = 0 ] && grep -q "Usage: berth $v" "$T/out" && ok "$v --help" || fail "$v --help" "$(_show_run)"
done
check "rm bb1" "${B[@]}" rm bb1
[ -z "$(ls "$root/machines")" ] && ok "no machine is left" || fail "no machine is left" "$(ls "$root/machines")"
