#!/bin/bash
# Machine networking: nat through pasta (the default) with published and auto-forwarded
# ports, the host's loopback and DNS from inside, --isolated keeping the host's loopback
# out, --network host and none, bad -p refused, pasta stopped with the machine, and
# apt-get install in the Debian machine over nat.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/machine-lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
command -v pasta > /dev/null || {
	fail "pasta is installed" "install Debian's passt package (make deps)"
	exit 1
}

bb=$(busybox_fixture) || {
	fail "busybox fixture builds"
	exit 1
}
check "import busybox" "${B[@]}" -q image import "$bb/oci:busybox" --tag net-bb:1

# A service on the host's loopback only, started directly so that $! is its PID.
mkdir -p "$T/www"
echo host-loopback-canary > "$T/www/canary"
hport=$(free_port)
$PY -m http.server -b 127.0.0.1 "$hport" --directory "$T/www" > /dev/null 2>&1 &
hpid=$!
defer_kill "$hpid"
wait_for_port "$hport" "$hpid" || fail "the host service starts"

# fetch NAME HOST PORT PATH: an HTTP GET from inside machine NAME with busybox nc (busybox
# wget crashes in Debian's static build); the body's last line on stdout.
fetch() {
	"${B[@]}" exec --root "$1" -- sh -c \
		'printf "GET /$3 HTTP/1.0\r\nHost: x\r\n\r\n" | timeout 5 nc "$1" "$2" | tail -n 1' \
		sh "$2" "$3" "$4"
}
gateway() { "${B[@]}" exec --root "$1" -- sh -c "ip route | awk '/^default/ {print \$3}'"; }
pasta_pid() { grep -o 'nat through pasta (process [0-9]*' "$root/machines/$1/console.log" | tail -n 1 | grep -o '[0-9]*$'; }

# --- nat (the default), with a published port ---
pub=$(free_port)
auto=$(free_port)
machine n1
check "create a nat machine with -p" "${B[@]}" create n1 net-bb:1 -p "$pub:80" --start
track n1
run "${B[@]}" inspect n1
[ "$(jq -c '.host_access.network | [.mode, .auto_forward, .host_loopback, .published[0].host_ip, .published[0].host_port, .published[0].port, .published[0].proto]' "$T/out")" = "[\"nat\",true,true,\"127.0.0.1\",$pub,80,\"tcp\"]" ] &&
	ok "inspect shows nat, the published port on 127.0.0.1 and auto-forwarding" ||
	fail "inspect shows nat, the published port on 127.0.0.1 and auto-forwarding" "$(_show_run)"
pp=$(pasta_pid n1)
[ -n "$pp" ] && kill -0 "$pp" 2> /dev/null && ok "pasta runs for the machine" || fail "pasta runs for the machine" "$(tail -5 "$root/machines/n1/console.log")"
[ -n "$pp" ] && defer _kill_if_same "$pp" "$(awk '{print $22}' "/proc/$pp/stat" 2> /dev/null)"
[ "$(readlink "/proc/$(state n1 init_pid)/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
	ok "the machine has a network namespace of its own" || fail "the machine has a network namespace of its own"
run "${B[@]}" exec n1 -- ip -o -4 addr show scope global
grep -q 'inet ' "$T/out" && ok "pasta gave it an address" || fail "pasta gave it an address" "$(_show_run)"
run "${B[@]}" exec n1 -- cat /etc/resolv.conf
grep -q '^nameserver 169.254.254.53$' "$T/out" && grep -q '^# Written by berth' "$T/out" &&
	ok "resolv.conf names pasta's DNS forwarder" || fail "resolv.conf names pasta's DNS forwarder" "$(_show_run)"
gw=$(gateway n1)
run fetch n1 "$gw" "$hport" canary
[ "$(cat "$T/out")" = host-loopback-canary ] && ok "the machine reaches a host loopback service at its gateway ($gw)" ||
	fail "the machine reaches a host loopback service at its gateway ($gw)" "$(_show_run)"
host_ns=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)
if [ -n "$host_ns" ] && getent hosts deb.debian.org > /dev/null 2>&1; then
	run "${B[@]}" exec n1 -- nslookup deb.debian.org
	[ $status = 0 ] && grep -q 'Address' "$T/out" && ok "DNS works from inside" || fail "DNS works from inside" "$(_show_run)"
else
	ok "DNS works from inside # SKIP the host itself cannot resolve deb.debian.org"
fi
check "start web servers in the machine" "${B[@]}" exec --root n1 -- sh -c \
	"mkdir -p /www && echo served-from-machine > /www/index.html && httpd -p 80 -h /www && httpd -p $auto -h /www"
run curl -s -m 5 "http://127.0.0.1:$pub/"
[ "$(cat "$T/out")" = served-from-machine ] && ok "a published port reaches the server in the machine" ||
	fail "a published port reaches the server in the machine" "$(_show_run)"
ss -Hltn "sport = :$pub" | awk '{print $4}' | grep -qx "127.0.0.1:$pub" &&
	ok "the published port listens on 127.0.0.1 only" || fail "the published port listens on 127.0.0.1 only" "$(ss -Hltn "sport = :$pub")"
auto_ok() { [ "$(curl -s -m 2 "http://127.0.0.1:$auto/")" = served-from-machine ]; }
wait_until 15 auto_ok && ok "a port the machine listens on is forwarded to host 127.0.0.1:$auto" ||
	fail "a port the machine listens on is forwarded to host 127.0.0.1:$auto" "$(tail -5 "$root/machines/n1/console.log")"
check "stop the server in the machine" "${B[@]}" exec --root n1 -- sh -c "pkill -f 'httpd -p $auto' || kill \$(pidof httpd)"
gone() { ! curl -s -m 1 "http://127.0.0.1:$auto/" > /dev/null; }
wait_until 15 gone && ok "the forward goes when the server stops" || fail "the forward goes when the server stops"
check "stop n1" "${B[@]}" stop n1
if [ -n "$pp" ] && kill -0 "$pp" 2> /dev/null; then fail "pasta stops with the machine"; else ok "pasta stops with the machine"; fi
run curl -s -m 2 "http://127.0.0.1:$pub/"
[ $status != 0 ] && ok "the published port is closed after stop" || fail "the published port is closed after stop" "$(_show_run)"
check "start n1 again" "${B[@]}" start n1
track n1
pp2=$(pasta_pid n1)
[ -n "$pp2" ] && defer _kill_if_same "$pp2" "$(awk '{print $22}' "/proc/$pp2/stat" 2> /dev/null)"
check "restart the server" "${B[@]}" exec --root n1 -- httpd -p 80 -h /www
run curl -s -m 5 "http://127.0.0.1:$pub/"
[ "$(cat "$T/out")" = served-from-machine ] && ok "the published port works after a restart" ||
	fail "the published port works after a restart" "$(_show_run)"
check "rm -f n1" "${B[@]}" rm -f n1
if [ -n "$pp2" ] && kill -0 "$pp2" 2> /dev/null; then fail "rm -f stops pasta"; else ok "rm -f stops pasta"; fi

# --- a published UDP port, to a static echo server built here and mounted in ---
mkdir -p "$T/bin"
EXPECT_MATCH="searchable" expect_fail "a mount the machine's root cannot reach says why" \
	"${B[@]}" create u0 net-bb:1 --mount "$T/bin:/opt/t:ro" --start
"${B[@]}" rm -f u0 > /dev/null 2>&1
chmod 755 "$T"
if musl-gcc -static -O2 -o "$T/bin/udp-echo" "$top/tests/fixtures/udp-echo.c" 2> "$T/err"; then
	uport=$(free_port)
	machine u1
	check "create with -p HOSTPORT:PORT/udp" "${B[@]}" create u1 net-bb:1 -p "127.0.0.1:$uport:5353/udp" \
		--mount "$T/bin:/opt/t:ro" --start
	track u1
	up=$(pasta_pid u1)
	[ -n "$up" ] && defer _kill_if_same "$up" "$(awk '{print $22}' "/proc/$up/stat" 2> /dev/null)"
	check "start a UDP echo server in the machine" "${B[@]}" exec --root u1 -- sh -c 'setsid /opt/t/udp-echo 5353 > /dev/null 2>&1 < /dev/null &'
	run $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(20):
    s.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(100).decode()); break
    except socket.timeout:
        pass' "$uport"
	[ "$(cat "$T/out")" = echo:ping ] && ok "a published UDP port reaches the server in the machine" ||
		fail "a published UDP port reaches the server in the machine" "$(_show_run)"
	run "${B[@]}" inspect u1
	[ "$(jq -r '.host_access.network.published[0].proto' "$T/out")" = udp ] && ok "inspect shows the UDP port" ||
		fail "inspect shows the UDP port" "$(_show_run)"
	machine u2
	check "create a second machine publishing the same UDP port" "${B[@]}" create u2 net-bb:1 -p "127.0.0.1:$uport:53/udp"
	EXPECT_MATCH="UDP port" expect_fail "a taken UDP port fails the start with a sentence" "${B[@]}" start u2
	is_stopped u2 && ok "... and that machine is stopped" || fail "... and that machine is stopped" "$(cat "$root/machines/u2/state.json")"
	check "rm u2" "${B[@]}" rm -f u2
	check "rm -f u1" "${B[@]}" rm -f u1
else
	fail "build the UDP echo server with musl-gcc" "$(cat "$T/err")"
fi

# --- a published port that is taken fails the start with a sentence ---
machine n2
check "create a machine publishing the host service's port" "${B[@]}" create n2 net-bb:1 -p "$hport:80"
expect_fail "a taken host port fails the start" "${B[@]}" start n2
is_stopped n2 && ok "... and the machine is stopped" || fail "... and the machine is stopped" "$(cat "$root/machines/n2/state.json")"
check "rm n2" "${B[@]}" rm -f n2

# --- isolated: no host loopback, no auto-forwarding ---
iauto=$(free_port)
machine iso
check "create --isolated" "${B[@]}" create iso net-bb:1 --isolated --start
track iso
run "${B[@]}" inspect iso
[ "$(jq -c '.host_access.network | [.mode, .auto_forward, .host_loopback]' "$T/out")" = '["nat",false,false]' ] &&
	ok "inspect: isolated nat has no host loopback and no auto-forwarding" ||
	fail "inspect: isolated nat has no host loopback and no auto-forwarding" "$(_show_run)"
gw=$(gateway iso)
run fetch iso "$gw" "$hport" canary
! grep -q canary "$T/out" && ok "an isolated machine cannot reach a host loopback service" ||
	fail "an isolated machine cannot reach a host loopback service" "$(_show_run)"
run fetch iso 127.0.0.1 "$hport" canary
! grep -q canary "$T/out" && ok "... nor at 127.0.0.1" || fail "... nor at 127.0.0.1" "$(_show_run)"
check "a server in the isolated machine" "${B[@]}" exec --root iso -- sh -c "mkdir -p /www && echo iso > /www/index.html && httpd -p $iauto -h /www"
sleep 3 # twice the forwarder's scan interval: nothing may appear
run curl -s -m 2 "http://127.0.0.1:$iauto/"
[ $status != 0 ] && ok "ports of an isolated machine are not forwarded" || fail "ports of an isolated machine are not forwarded" "$(_show_run)"
check "rm -f iso" "${B[@]}" rm -f iso

# --- none and host ---
machine nn
check "create --network none" "${B[@]}" create nn net-bb:1 --network none --start
track nn
run "${B[@]}" exec nn -- ip -o link
[ "$(grep -c . "$T/out")" = 1 ] && grep -q ' lo:' "$T/out" && ok "--network none has loopback only" ||
	fail "--network none has loopback only" "$(_show_run)"
run fetch nn 127.0.0.1 "$hport" canary
! grep -q canary "$T/out" && ok "--network none cannot reach the host" || fail "--network none cannot reach the host" "$(_show_run)"
check "rm -f nn" "${B[@]}" rm -f nn
machine nh
check "create --network host" "${B[@]}" create nh net-bb:1 --network host --start
track nh
run fetch nh 127.0.0.1 "$hport" canary
[ "$(cat "$T/out")" = host-loopback-canary ] && ok "--network host shares the host's loopback" ||
	fail "--network host shares the host's loopback" "$(_show_run)"
run "${B[@]}" inspect nh
[ "$(jq -r .host_access.network.mode "$T/out")" = host ] && ok "inspect says host" || fail "inspect says host" "$(_show_run)"
check "rm -f nh" "${B[@]}" rm -f nh

# --- bad input ---
EXPECT_MATCH="nat, host or none" expect_fail "a bad --network is refused" "${B[@]}" create x net-bb:1 --network bridge
EXPECT_MATCH="isolated" expect_fail "--isolated with --network host is refused" "${B[@]}" create x net-bb:1 --isolated --network host
EXPECT_MATCH="nat" expect_fail "-p with --network host is refused" "${B[@]}" create x net-bb:1 --network host -p 8080:80
for spec in 0:80 70000:80 8080:0 8080 abc:80 8080:80/sctp 999.1.1.1:8080:80; do
	expect_fail "-p $spec is refused" "${B[@]}" create x net-bb:1 -p "$spec"
done
EXPECT_MATCH="twice|already" expect_fail "the same host port twice is refused" "${B[@]}" create x net-bb:1 -p 8080:80 -p 8080:81
[ ! -e "$root/machines/x" ] && ok "refused creates leave nothing" || fail "refused creates leave nothing"

# --- Debian: apt-get install over nat ---
deb=$(debian_fixture) || {
	fail "debian fixture builds"
	exit 1
}
check "import debian" "${B[@]}" -q image import "$deb" --tag net-deb:1
machine deb
check "create and start the Debian machine (nat)" "${B[@]}" create deb net-deb:1 --start
track deb
dp=$(pasta_pid deb)
[ -n "$dp" ] && defer _kill_if_same "$dp" "$(awk '{print $22}' "/proc/$dp/stat" 2> /dev/null)"
run "${B[@]}" exec --root deb -- sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends hello && hello'
grep -q 'Hello, world!' "$T/out" && ok "apt-get install works inside the Debian machine" ||
	fail "apt-get install works inside the Debian machine" "$(_show_run)"
check "rm -f deb" "${B[@]}" rm -f deb
