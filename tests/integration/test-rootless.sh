#!/bin/bash
# Rootless machines: a regular user (made here, with its own /etc/subuid and /etc/subgid
# ranges) cannot start the Debian systemd machine before 'berth setup-user', and is told to
# run it; after it (run twice: the second changes nothing) the user creates, starts, execs
# in, stops, restarts and removes that machine, with systemd reaching running or degraded.
# 'setup-user --undo' takes the cgroups and the /dev/net/tun ACL back. Everything made is
# removed at exit: machines (by pid), cgroups, the user, its home and its subordinate ids.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
if [ "$(id -u)" != 0 ]; then
	echo "ok - skipped: making a test user needs root # SKIP"
	exit 0
fi
for tool in useradd userdel newuidmap newgidmap setpriv; do
	command -v $tool > /dev/null || {
		fail "$tool is installed" "install it (scripts/install-deps.sh)"
		exit 1
	}
done

user=berthtest$$
home=/home/$user
# A subordinate range of its own, above berth's root ranges (0x10000000 + 4096 * 65536).
sub=$((0x20000000 + ($$ % 4096) * 65536))
tun_before=$(stat -c %a /dev/net/tun 2> /dev/null)
# The access ACL of /dev/net/tun as "tag:perm:id" entries ("none" without one).
tun_acl() {
	$PY -c 'import os, struct
try:
    b = os.getxattr("/dev/net/tun", "system.posix_acl_access")
except OSError:
    print("none"); raise SystemExit
print(" ".join("%d:%d:%d" % struct.unpack_from("<HHI", b, o) for o in range(4, len(b), 8)))'
}
acl_before=$(tun_acl)

# --- the user (removed last) ---
_drop_user() {
	local d i
	# userdel refuses while a process of the user is still exiting: retry for a while.
	for i in $(seq 50); do
		userdel -r "$user" > /dev/null 2>&1 && break
		id "$user" > /dev/null 2>&1 || break
		sleep 0.2
	done
	id "$user" > /dev/null 2>&1 && echo "# could not delete user $user: $(userdel "$user" 2>&1)"
	sed -i "/^$user:/d" /etc/subuid /etc/subgid
	rm -rf -- "$home" "/tmp/berth-$uid"
	for d in /sys/fs/cgroup/*/berth-user/"$user" /sys/fs/cgroup/berth-user/"$user"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2> /dev/null
	done
	rm -f "/var/lib/berth/users/$user.json"
}
# -K SUB_*_COUNT=0: no automatic range; the test adds its own below.
useradd -m -d "$home" -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user" || {
	fail "make the test user $user"
	exit 1
}
uid=$(id -u "$user")
gid=$(id -g "$user")
defer _drop_user
defer _umount_under "$home"
echo "$user:$sub:65536" >> /etc/subuid
echo "$user:$sub:65536" >> /etc/subgid

as_user() {
	setpriv --reuid="$uid" --regid="$gid" --init-groups env -i HOME="$home" \
		XDG_RUNTIME_DIR="$home/run" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		USER="$user" LOGNAME="$user" "$@"
}
install -d -o "$uid" -g "$gid" -m 0700 "$home/run"
root=$home/berth
B=(as_user "$BERTH" --root "$root")
m=rl-$$

# The fixture layout is root's and partly 0600 (umoci): the user imports its own copy.
deb=$(debian_fixture) || {
	fail "debian fixture builds"
	exit 1
}
cp -r "$deb" "$home/oci" && chown -R "$uid:$gid" "$home/oci"
check "import debian as $user" "${B[@]}" -q image import "$home/oci" --tag mdeb:1

# --- before setup-user: a clear failure ---
machine "$m"
EXPECT_MATCH="sudo berth setup-user $user" expect_fail "create before setup-user names the command" \
	"${B[@]}" create "$m" mdeb:1
[ ! -e "$root/machines/$m" ] && ok "the failed create leaves no machine" || fail "the failed create leaves no machine"
EXPECT_MATCH="as root" expect_fail "setup-user as the user is refused" "${B[@]}" setup-user "$user"

# --- setup-user, twice ---
_undo_quietly() { "$BERTH" setup-user --undo "$user" > /dev/null 2>&1 || true; }
defer _undo_quietly
check "setup-user" "$BERTH" setup-user "$user"
grep -q "is set up" "$T/out" && grep -q "reboot" "$T/out" && ok "setup-user says what it did and that a reboot undoes it" ||
	fail "setup-user says what it did" "$(_show_run)"
check "setup-user again" "$BERTH" setup-user "$user"
grep -q "already set up" "$T/out" && ok "a second setup-user is idempotent" || fail "a second setup-user is idempotent" "$(_show_run)"
dirs=$(jq -r '.cgroups[]' "/var/lib/berth/users/$user.json" 2> /dev/null)
bad=""
for d in $dirs; do
	[ "$(stat -c %u "$d" 2> /dev/null)" = "$uid" ] && [ "$(stat -c %u "$d/cgroup.procs")" = "$uid" ] || bad+=" $d"
	for f in "$d"/memory.limit_in_bytes "$d"/pids.max "$d"/memory.max "$d"/cpu.max; do
		[ ! -e "$f" ] || [ "$(stat -c %u "$f")" = 0 ] || bad+=" $f(limit file handed over)"
	done
done
[ -n "$dirs" ] && [ -z "$bad" ] && ok "cgroups delegated ($(echo $dirs | wc -w) hierarchies), limit files kept by root" ||
	fail "cgroups delegated" "bad:$bad" "$dirs"
if [ -n "$tun_before" ] && [ $((0$tun_before & 6)) -ne 6 ]; then
	tun_acl | grep -qw "2:6:$uid" && ok "$user has an ACL entry on /dev/net/tun" ||
		fail "$user has an ACL entry on /dev/net/tun" "$(tun_acl)"
	as_user python3 -c 'import os; os.close(os.open("/dev/net/tun", os.O_RDWR))' 2> "$T/err" &&
		ok "the user may open /dev/net/tun (mode $tun_before)" || fail "the user may open /dev/net/tun" "$(cat "$T/err")"
fi

# --- the rootless machine ---
check "create as $user" "${B[@]}" create "$m" mdeb:1
check "start as $user" "${B[@]}" start "$m"
track "$m"
mon=$(state "$m" monitor_pid)
[ "$(stat -c %u "/proc/$mon" 2> /dev/null)" = "$uid" ] && ok "the monitor runs as $user" || fail "the monitor runs as $user"
run "${B[@]}" exec -u root "$m" -- sh -c 'whoami; id -u'
[ "$(tr '\n' ' ' < "$T/out")" = "root 0 " ] && ok "exec -u root: whoami and id" || fail "exec -u root: whoami and id" "$(_show_run)"
# Every host id of the machine is the user's own or one of its subordinate ids (the map may
# be a keep-id one): machine root is never host root, nor anyone else's id.
run "${B[@]}" exec -u root "$m" -- cat /proc/self/uid_map
bad_map=$(awk -v u="$uid" -v s="$sub" '{ if (!($2 == u && $3 == 1) && !($2 >= s && $2 + $3 <= s + 65536)) print }' "$T/out")
[ -s "$T/out" ] && [ -z "$bad_map" ] && ok "the id map uses only $user's ids ($(tr -s ' \n' ' ' < "$T/out"))" ||
	fail "the id map uses only the user's ids" "$(_show_run)"
check "exec as the default user" "${B[@]}" exec "$m" -- id
run "${B[@]}" exec "$m" -- sh -c 'id -un; id -u; id -g'
[ "$(tr '\n' ' ' < "$T/out")" = "$user $uid $gid " ] && ok "exec runs as $user with the host's ids (keep-id)" ||
	fail "exec runs as $user with the host's ids (keep-id)" "$(_show_run)"
run "${B[@]}" exec "$m" -- stat -c '%u:%g %n' / /etc/passwd /usr/bin/sudo
[ "$(cut -d' ' -f1 "$T/out" | sort -u)" = "0:0" ] && ok "the image's files stay root's inside" ||
	fail "the image's files stay root's inside" "$(_show_run)"
run "${B[@]}" exec "$m" -- sudo -n id -u
[ "$(cat "$T/out")" = 0 ] && ok "sudo works inside a rootless machine" || fail "sudo works inside a rootless machine" "$(_show_run)"
as_user sh -c 'echo from-host > ~/host-file'
run "${B[@]}" exec "$m" -- stat -c '%u:%g' "$home/host-file"
[ "$(cat "$T/out")" = "$uid:$gid" ] && ok "the host home's files are the machine user's" ||
	fail "the host home's files are the machine user's" "$(_show_run)"
check "the machine user writes in the home" "${B[@]}" exec "$m" -- sh -c "echo x > $home/made-inside"
[ "$(stat -c '%u:%g' "$home/made-inside" 2> /dev/null)" = "$uid:$gid" ] && ok "... and the file is $user's on the host" ||
	fail "... and the file is $user's on the host" "$(stat -c '%u:%g' "$home/made-inside" 2>&1)"
# nat networking through pasta, as the user: the host's loopback at the gateway.
mkdir -p "$T/www" && echo rootless-canary > "$T/www/canary" && chmod -R a+rX "$T"
hport=$(free_port)
$PY -m http.server -b 127.0.0.1 "$hport" --directory "$T/www" > /dev/null 2>&1 &
hpid=$!
defer_kill "$hpid"
wait_for_port "$hport" "$hpid" || fail "the host service starts"
run "${B[@]}" exec "$m" -- bash -c 'gw=$(ip route | awk "/^default/ {print \$3}"); exec 3<> /dev/tcp/$gw/'"$hport"'; printf "GET /canary HTTP/1.0\r\n\r\n" >&3; tail -n 1 <&3'
[ "$(cat "$T/out")" = rootless-canary ] && ok "a rootless nat machine reaches a host loopback service" ||
	fail "a rootless nat machine reaches a host loopback service" "$(_show_run)" "$(tail -5 "$root/machines/$m/console.log")"
st=$("${B[@]}" exec "$m" -- systemctl is-system-running --wait 2> /dev/null)
case $st in running | degraded) ok "systemd reports $st" ;; *) fail "systemd reports running" "state '$st'; $("${B[@]}" exec "$m" -- systemctl --failed --no-legend 2>&1)" ;; esac
grep -q "berth-user/$user" "/proc/$(state "$m" init_pid)/cgroup" && ok "the init is in the delegated cgroup" ||
	fail "the init is in the delegated cgroup" "$(cat "/proc/$(state "$m" init_pid)/cgroup")"
check "set memory=1G on the running machine" "${B[@]}" set "$m" memory=1G
check "write a file" "${B[@]}" exec -u root "$m" -- sh -c 'echo kept > /root/marker && useradd -m bob && echo hi > /home/bob/f && chown bob: /home/bob/f'
check "stop" "${B[@]}" stop "$m"
is_stopped "$m" && ok "stopped" || fail "stopped"
check "start again" "${B[@]}" start "$m"
track "$m"
run "${B[@]}" exec -u root "$m" -- sh -c 'cat /root/marker; stat -c %U /home/bob/f'
[ "$(tr '\n' ' ' < "$T/out")" = "kept bob " ] && ok "files persist across stop and start" || fail "files persist across stop and start" "$(_show_run)"
check "stop again" "${B[@]}" stop "$m"
check "rm as $user" "${B[@]}" rm "$m"
[ ! -e "$root/machines/$m" ] && ok "rm removes the machine, subordinate-id files too" ||
	fail "rm removes the machine" "$(find "$root/machines/$m" -maxdepth 3 2> /dev/null | head)"
[ -z "$(cgroup_dirs "$m")" ] && ok "no cgroup left after rm" || fail "no cgroup left after rm" "$(cgroup_dirs "$m")"

# --- a limit on a controller that is not delegated is refused, never ignored ---
pdir=/sys/fs/cgroup/pids/berth-user/$user
if [ -d "$pdir" ]; then
	lim=lim-$$
	machine "$lim"
	chown 0:0 "$pdir" "$pdir/cgroup.procs"
	check "create with --pids while pids is not delegated" "${B[@]}" create "$lim" mdeb:1 --pids 100
	EXPECT_MATCH="not delegated" expect_fail "a limit on a controller not delegated is refused with a sentence" \
		"${B[@]}" start "$lim"
	is_stopped "$lim" || [ "$(state "$lim" status)" = null ] && ok "... and the machine does not run" ||
		fail "... and the machine does not run" "$(cat "$root/machines/$lim/state.json" 2> /dev/null)"
	chown "$uid:$gid" "$pdir" "$pdir/cgroup.procs"
	check "rm $lim" "${B[@]}" rm -f "$lim"
fi

# --- undo ---
check "setup-user --undo" "$BERTH" setup-user --undo "$user"
left=""
for d in $dirs; do [ ! -e "$d" ] || left+=" $d"; done
[ -z "$left" ] && ok "--undo removes the cgroup directories" || fail "--undo removes the cgroup directories" "$left"
[ "$(stat -c %a /dev/net/tun 2> /dev/null)" = "$tun_before" ] && [ "$(tun_acl)" = "$acl_before" ] &&
	ok "--undo restores /dev/net/tun (mode $tun_before, ACL $acl_before)" ||
	fail "--undo restores /dev/net/tun" "$(ls -l /dev/net/tun)" "before: $acl_before" "after: $(tun_acl)"
[ ! -e "/var/lib/berth/users/$user.json" ] && ok "--undo removes its record" || fail "--undo removes its record"
EXPECT_MATCH="setup-user" expect_fail "create after --undo fails again with the command" "${B[@]}" create "$m" mdeb:1
check "image rm as $user" "${B[@]}" image rm mdeb:1
check "image prune as $user removes layers handed to subordinate ids" "${B[@]}" image prune
[ -z "$(ls -A "$root/layers" 2> /dev/null)" ] && ok "no layer is left" || fail "no layer is left" "$(ls -la "$root/layers")"
