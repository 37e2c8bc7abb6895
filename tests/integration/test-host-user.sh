#!/bin/bash
# The host user inside machines, home sharing (rw, ro, none) with ownership both ways,
# --mount, --isolated, the SSH agent and what inspect says of it all. berth runs as root
# under a simulated sudo (SUDO_USER=<a test user>), as `sudo berth ...` would.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")

# --- a host user of our own, removed at exit ---
u=bu$$
useradd -m -s /bin/bash -c "Berth Tester" "$u" || {
	fail "create the test user $u"
	exit 1
}
_userdel() { userdel -r -f "$1" > /dev/null 2>&1 || true; }
defer _userdel "$u"
uid=$(id -u "$u")
gid=$(id -g "$u")
home=$(getent passwd "$u" | cut -d: -f6)
as_sudo() { SUDO_USER=$u SUDO_UID=$uid SUDO_GID=$gid "$@"; }
as_user() { setpriv --reuid="$uid" --regid="$gid" --init-groups env HOME="$home" "$@"; }
as_user sh -c 'echo from-host > ~/host-file && mkdir -p ~/proj/sub && echo canary > ~/canary'
echo tmp-canary > "$T/tmp-canary"
chmod 755 "$T"

bb=$(busybox_fixture) || {
	fail "busybox fixture builds"
	exit 1
}
check "import busybox" "${B[@]}" -q image import "$bb/oci:busybox" --tag hu-bb:1

# --- home rw (the default) on busybox ---
machine rw1
check "create with the host user (sudo)" as_sudo "${B[@]}" create rw1 hu-bb:1
run jq -r '.host_user.name, .host_user.uid, .home, .ssh_agent' "$root/machines/rw1/config.json"
[ "$(tr '\n' ' ' < "$T/out")" = "$u $uid rw true " ] && ok "config records the host user and rw home" ||
	fail "config records the host user and rw home" "$(_show_run)"
check "start" as_sudo "${B[@]}" start rw1
track rw1
run "${B[@]}" exec rw1 -- sh -c 'id -un; id -u; id -g; echo $HOME'
[ "$(tr '\n' ' ' < "$T/out")" = "$u $uid $gid $home " ] && ok "exec runs as the host user by default" ||
	fail "exec runs as the host user by default" "$(_show_run)"
run "${B[@]}" exec --root rw1 -- id -u
[ "$(cat "$T/out")" = 0 ] && ok "--root runs as root" || fail "--root runs as root" "$(_show_run)"
run "${B[@]}" exec rw1 -- grep "^$u:" /etc/passwd
[ "$(cat "$T/out")" = "$u:x:$uid:$gid:Berth Tester:$home:/bin/sh" ] &&
	ok "passwd entry with the host's ids (shell falls back to /bin/sh)" ||
	fail "passwd entry with the host's ids (shell falls back to /bin/sh)" "$(_show_run)"
run "${B[@]}" exec rw1 -- cat "$home/host-file"
[ "$(cat "$T/out")" = from-host ] && ok "the host home is shared at the same path" ||
	fail "the host home is shared at the same path" "$(_show_run)"
run "${B[@]}" exec rw1 -- stat -c '%u:%g' "$home/host-file"
[ "$(cat "$T/out")" = "$uid:$gid" ] && ok "host files are owned by the machine user" ||
	fail "host files are owned by the machine user" "$(_show_run)"
check "the machine user writes in the home" "${B[@]}" exec rw1 -- sh -c "echo from-machine > $home/made-inside && mkdir $home/dir-inside"
[ "$(stat -c '%u:%g' "$home/made-inside" 2> /dev/null)" = "$uid:$gid" ] &&
	[ "$(stat -c '%u' "$home/dir-inside" 2> /dev/null)" = "$uid" ] &&
	ok "files the machine user makes are the host user's on the host" ||
	fail "files the machine user makes are the host user's on the host" "$(stat -c '%n %u:%g' "$home/made-inside" "$home/dir-inside" 2>&1)"
run "${B[@]}" exec --root rw1 -- sh -c "echo x > $home/root-made; stat -c %u $home/root-made"
[ "$(stat -c '%u' "$home/root-made" 2> /dev/null)" != 0 ] && ok "machine root's files in the home are not host root's" ||
	fail "machine root's files in the home are not host root's" "$(stat -c '%u' "$home/root-made" 2>&1)"
rm -f "$home/root-made"
run sh -c "cd '$home/proj/sub' && \"\$@\" exec rw1 -- pwd" sh "${B[@]}"
[ "$(cat "$T/out")" = "$home/proj/sub" ] && ok "exec starts in the host's directory when it is shared" ||
	fail "exec starts in the host's directory when it is shared" "$(_show_run)"
run sh -c "cd '$T' && \"\$@\" exec rw1 -- pwd" sh "${B[@]}"
[ "$(cat "$T/out")" = "$home" ] && ok "else in the user's home" || fail "else in the user's home" "$(_show_run)"
run sh -c "cd '$home/proj' && echo pwd | \"\$@\" shell rw1" sh "${B[@]}"
[ "$(cat "$T/out")" = "$home/proj" ] && ok "shell starts in the shared host directory" ||
	fail "shell starts in the shared host directory" "$(_show_run)"
run "${B[@]}" inspect rw1
[ "$(jq -r '.host_access | "\(.user.name) \(.home) \(.mounts[0].source) \(.mounts[0].mode) \(.isolated)"' "$T/out")" = "$u rw $home rw false" ] &&
	ok "inspect lists the home with its mode" || fail "inspect lists the home with its mode" "$(_show_run)"
check "stop" "${B[@]}" stop rw1
check "start again" "${B[@]}" start rw1
track rw1
run "${B[@]}" exec rw1 -- grep -c "^$u:" /etc/passwd /etc/group
[ "$(tr '\n' ' ' < "$T/out")" = "/etc/passwd:1 /etc/group:1 " ] && ok "making the user is idempotent" ||
	fail "making the user is idempotent" "$(_show_run)"

# --- set home=ro and a mount apply at the next start ---
mkdir -p "$T/share" "$T/share-ro"
echo shared > "$T/share/file"
echo shared-ro > "$T/share-ro/file"
chown -R "$uid:$gid" "$T/share"
check "set home=ro and two mounts" "${B[@]}" set rw1 home=ro "mount=$T/share:/mnt/share" "mount=$T/share-ro:/srv/ro:ro"
grep -q "next start" "$T/out" && ok "set says they apply at the next start" || fail "set says they apply at the next start" "$(_show_run)"
check "restart" "${B[@]}" restart rw1
track rw1
expect_exit 1 "the home is read-only after home=ro" "${B[@]}" exec rw1 -- sh -c "echo x > $home/ro-test"
[ ! -e "$home/ro-test" ] && ok "nothing was written to the ro home" || fail "nothing was written to the ro home"
run "${B[@]}" exec rw1 -- cat "$home/host-file" /mnt/share/file /srv/ro/file
[ "$(tr '\n' ' ' < "$T/out")" = "from-host shared shared-ro " ] && ok "the ro home and both mounts are readable" ||
	fail "the ro home and both mounts are readable" "$(_show_run)"
check "a rw mount is writable" "${B[@]}" exec rw1 -- sh -c 'echo new > /mnt/share/new'
[ "$(stat -c %u "$T/share/new" 2> /dev/null)" = "$uid" ] && ok "... and its new file is the host user's" ||
	fail "... and its new file is the host user's" "$(stat -c %u "$T/share/new" 2>&1)"
expect_exit 1 "a :ro mount is read-only" "${B[@]}" exec --root rw1 -- sh -c 'echo x > /srv/ro/x'
run sh -c "cd '$T/share' && \"\$@\" exec rw1 -- pwd" sh "${B[@]}"
[ "$(cat "$T/out")" = /mnt/share ] && ok "the host directory of a mount maps to its destination" ||
	fail "the host directory of a mount maps to its destination" "$(_show_run)"
run "${B[@]}" inspect rw1
[ "$(jq -c '[.host_access.mounts[] | [.destination, .mode]]' "$T/out")" = "[[\"$home\",\"ro\"],[\"/mnt/share\",\"rw\"],[\"/srv/ro\",\"ro\"]]" ] &&
	ok "inspect lists every mount with its mode" || fail "inspect lists every mount with its mode" "$(_show_run)"
check "unmount= drops a mount" "${B[@]}" set rw1 unmount=/srv/ro
run jq -r '.mounts | length' "$root/machines/rw1/config.json"
[ "$(cat "$T/out")" = 1 ] && ok "... from config.json" || fail "... from config.json" "$(_show_run)"
EXPECT_MATCH="no mount at" expect_fail "unmount= of an unknown mount is refused" "${B[@]}" set rw1 unmount=/nope
EXPECT_MATCH="rw, ro or none" expect_fail "a bad home= is refused" "${B[@]}" set rw1 home=maybe
check "rm -f rw1" "${B[@]}" rm -f rw1

# --- bad input at create ---
EXPECT_MATCH="--home is rw, ro or none" expect_fail "a bad --home is refused" "${B[@]}" create x1 hu-bb:1 --home yes
EXPECT_MATCH="SRC:DST" expect_fail "a mount without a destination is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp
EXPECT_MATCH="existing host path" expect_fail "a missing mount source is refused" "${B[@]}" create x1 hu-bb:1 --mount /no/such:/x
EXPECT_MATCH="absolute" expect_fail "a relative destination is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp:rel
EXPECT_MATCH="'\.\.'" expect_fail "a destination with .. is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp:/a/../etc
EXPECT_MATCH="under /proc" expect_fail "a destination under /proc is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp:/proc/x
EXPECT_MATCH="root '/'" expect_fail "a destination of / is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp:/
EXPECT_MATCH="':ro' and" expect_fail "a bad mount option is refused" "${B[@]}" create x1 hu-bb:1 --mount /tmp:/x:rx
EXPECT_MATCH="isolated" expect_fail "--isolated with --mount is refused" "${B[@]}" create x1 hu-bb:1 --isolated --mount /tmp:/x
[ ! -e "$root/machines/x1" ] && ok "refused creates leave nothing" || fail "refused creates leave nothing"

# --- home none: a home of the machine's own ---
machine none1
check "create --home none" as_sudo "${B[@]}" create none1 hu-bb:1 --home none --start
track none1
run "${B[@]}" exec none1 -- sh -c "test -e $home/canary && echo visible || echo hidden; stat -c %u:%g $home; touch $home/mine"
[ "$(tr '\n' ' ' < "$T/out")" = "hidden $uid:$gid " ] && ok "home none: the host home is not there, the user has a home of its own" ||
	fail "home none: the host home is not there, the user has a home of its own" "$(_show_run)"
[ ! -e "$home/mine" ] && ok "home none: writes stay in the machine" || fail "home none: writes stay in the machine"
check "rm -f none1" "${B[@]}" rm -f none1

# --- isolated ---
machine iso1
check "create --isolated" as_sudo "${B[@]}" create iso1 hu-bb:1 --isolated --start
track iso1
run "${B[@]}" exec iso1 -- sh -c "cat $home/canary; cat $T/tmp-canary; ls $T"
[ $status -ne 0 ] && ! grep -q canary "$T/out" && ok "an isolated machine cannot read the host home or /tmp" ||
	fail "an isolated machine cannot read the host home or /tmp" "$(_show_run)"
run "${B[@]}" inspect iso1
[ "$(jq -c '.host_access | [.isolated, .home, (.mounts | length), .ssh_agent.forwarded]' "$T/out")" = '[true,"none",0,false]' ] &&
	ok "inspect of an isolated machine shows nothing shared" || fail "inspect of an isolated machine shows nothing shared" "$(_show_run)"
EXPECT_MATCH="isolated" expect_fail "set cannot share a home into an isolated machine" "${B[@]}" set iso1 home=rw
check "rm -f iso1" "${B[@]}" rm -f iso1

# --- root without sudo: no user of its own ---
machine root1
check "create as plain root" env -u SUDO_USER "${B[@]}" create root1 hu-bb:1 --start
track root1
run "${B[@]}" exec root1 -- id -u
[ "$(cat "$T/out")" = 0 ] && ok "plain root's machine runs exec as root" || fail "plain root's machine runs exec as root" "$(_show_run)"
run jq -r '.host_user' "$root/machines/root1/config.json"
[ "$(cat "$T/out")" = null ] && ok "... and has no host user" || fail "... and has no host user" "$(_show_run)"
check "rm -f root1" "${B[@]}" rm -f root1

# --- Debian: sudo, the host shell, the SSH agent ---
deb=$(debian_fixture) || {
	fail "debian fixture builds"
	exit 1
}
check "import debian" "${B[@]}" -q image import "$deb" --tag hu-deb:1
agent_dir=$(as_user mktemp -d /tmp/berth-agent.XXXXXX)
defer_rm "$agent_dir"
# Started directly (not through a function), so $! is the agent itself.
setpriv --reuid="$uid" --regid="$gid" --init-groups ssh-agent -a "$agent_dir/agent.sock" -D > /dev/null 2>&1 &
agent=$!
defer_kill "$agent"
wait_until 10 test -S "$agent_dir/agent.sock" || fail "ssh-agent starts"
as_user ssh-keygen -q -t ed25519 -N '' -C berth-test-key -f "$agent_dir/key" > /dev/null
SSH_AUTH_SOCK=$agent_dir/agent.sock as_user ssh-add -q "$agent_dir/key" 2> /dev/null ||
	fail "ssh-add of the test key on the host"
machine deb1
check "create the Debian machine with ssh-add mounted in" as_sudo "${B[@]}" create deb1 hu-deb:1 \
	--mount /usr/bin/ssh-add:/usr/local/bin/ssh-add:ro
check "start it with the host's agent" env SSH_AUTH_SOCK="$agent_dir/agent.sock" "${B[@]}" start deb1
track deb1
run "${B[@]}" exec deb1 -- sh -c 'echo $SHELL; id -nG'
[ "$(head -1 "$T/out")" = /bin/bash ] && ok "the host user's shell is kept when the machine has it" ||
	fail "the host user's shell is kept when the machine has it" "$(_show_run)"
grep -qw sudo "$T/out" && ok "the user is in the sudo group" || fail "the user is in the sudo group" "$(_show_run)"
run "${B[@]}" exec deb1 -- sudo -n id -u
[ "$(cat "$T/out")" = 0 ] && ok "sudo works without a password" || fail "sudo works without a password" "$(_show_run)"
run "${B[@]}" exec deb1 -- ssh-add -l
grep -q berth-test-key "$T/out" && ok "the SSH agent answers ssh-add -l inside" || fail "the SSH agent answers ssh-add -l inside" "$(_show_run)"
run "${B[@]}" inspect deb1
[ "$(jq -c '.host_access.ssh_agent | [.forwarded, .bound]' "$T/out")" = '[true,true]' ] &&
	ok "inspect shows the agent forwarded" || fail "inspect shows the agent forwarded" "$(_show_run)"
check "rm -f deb1" "${B[@]}" rm -f deb1
machine deb2
check "an isolated Debian machine" as_sudo "${B[@]}" create deb2 hu-deb:1 --isolated
check "start it with the host's agent in the environment" env SSH_AUTH_SOCK="$agent_dir/agent.sock" "${B[@]}" start deb2
track deb2
run "${B[@]}" exec deb2 -- sh -c 'echo "[$SSH_AUTH_SOCK]"; ls /run/berth 2>&1'
grep -q '^\[\]$' "$T/out" && ! grep -q agent.sock "$T/out" && ok "an isolated machine gets no SSH agent" ||
	fail "an isolated machine gets no SSH agent" "$(_show_run)"
check "rm -f deb2" "${B[@]}" rm -f deb2
awk -v d="$root/" 'index($2, d) == 1' /proc/self/mounts | grep -q . &&
	fail "no mount is left" "$(awk -v d="$root/" 'index($2, d) == 1' /proc/self/mounts)" || ok "no mount is left"
