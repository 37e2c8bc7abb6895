# shellcheck shell=bash
# Sourced by every integration test (and bench/pull). Gives each test:
#   $top      the checkout;  $BERTH  the binary under test (default $top/build/berth)
#   $T        a fresh per-test directory under tests/.work/ (removed at exit)
#   defer CMD...        push a cleanup command; run last-in first-out from the EXIT trap
#   defer_kill PID      kill -9 PID (and reap it) at exit;  defer_rm PATH  rm -rf at exit
#   ok NAME / fail NAME MSG      print "ok - NAME" / "not ok - NAME" (+ MSG as a comment)
#   check NAME CMD...            ok when CMD succeeds, otherwise fail with its output
#   run CMD...                   run CMD, output to $T/out and $T/err, status to $status
#   expect_exit CODE NAME CMD... ok when CMD exits with CODE
#   expect_fail NAME CMD...      ok when CMD exits 125 with a sentence on stderr
#   free_port, wait_for_port PORT [PID]
#   store_verify NAME ROOT       ok when every blob under ROOT/store matches its digest
# A test's exit status is 1 when any check failed.
set -uo pipefail
# berth takes the host user from SUDO_USER; tests that want one set it themselves.
unset SUDO_USER SUDO_UID SUDO_GID

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH=${BERTH:-$top/build/berth}
PY=/usr/bin/python3
test_name=$(basename "${0%.sh}")
mkdir -p "$top/tests/.work"
T=$(mktemp -d "$top/tests/.work/$test_name.XXXXXX")
failures=0
_cleanups=()

defer() {
	local q
	printf -v q '%q ' "$@"
	_cleanups+=("$q")
}

_kill_pid() { # kill and reap a process we started; never anything else
	local pid=$1
	[ -n "$pid" ] && [ "$pid" -gt 1 ] || return 0
	# Only while it is still one of our jobs: once reaped, its PID may belong to another.
	jobs -p | grep -qx "$pid" || return 0
	kill -9 "$pid" 2> /dev/null || return 0
	wait "$pid" 2> /dev/null || true
}
defer_kill() { defer _kill_pid "$1"; }
defer_rm() { defer rm -rf -- "$1"; }

_run_cleanups() {
	local st=$? i
	trap - EXIT INT TERM
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" || true
	done
	[ $failures -eq 0 ] || st=1
	exit $st
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM
# Mounts would make rm -rf dangerous: unmount anything left under $T first.
defer_rm "$T"
defer _umount_under "$T"
_umount_under() {
	local m
	awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2> /dev/null || true; done
}

ok() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	[ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/#   /'
	failures=$((failures + 1))
}

# run CMD...: captures stdout in $T/out, stderr in $T/err and the exit status in $status.
status=0
run() {
	"$@" > "$T/out" 2> "$T/err"
	status=$?
	return 0
}
_show_run() { # the last run's output, for failure messages
	echo "command: $*"
	echo "exit status: $status"
	head -c 3000 "$T/out" | sed 's/^/stdout: /'
	head -c 3000 "$T/err" | sed 's/^/stderr: /'
}

check() {
	local name=$1
	shift
	run "$@"
	if [ $status -eq 0 ]; then ok "$name"; else fail "$name" "$(_show_run "$@")"; fi
}

expect_exit() {
	local code=$1 name=$2
	shift 2
	run "$@"
	if [ $status -eq "$code" ]; then ok "$name"; else
		fail "$name" "expected exit status $code" "$(_show_run "$@")"
	fi
}

# berth's failures: exit 125 and one human sentence (several words, not a bare errno) on
# stderr. MATCH (optional, via EXPECT_MATCH=regex) must appear in it.
expect_fail() {
	local name=$1
	shift
	run "$@"
	local words
	words=$(wc -w < "$T/err")
	if [ $status -ne 125 ]; then
		fail "$name" "expected exit status 125" "$(_show_run "$@")"
	elif [ "$words" -lt 4 ] || grep -qi 'unknown error' "$T/err"; then
		fail "$name" "expected a sentence saying what went wrong on stderr" "$(_show_run "$@")"
	elif [ -n "${EXPECT_MATCH:-}" ] && ! grep -qiE -- "$EXPECT_MATCH" "$T/err"; then
		fail "$name" "stderr does not match /$EXPECT_MATCH/" "$(_show_run "$@")"
	else
		ok "$name"
	fi
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
	$PY -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_for_port PORT [PID]: until something accepts on 127.0.0.1:PORT; fails early when
# PID exits, and after 30 s.
wait_for_port() {
	local port=$1 pid=${2:-} deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)); do
		if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then return 0; fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2> /dev/null; then return 1; fi
		sleep 0.05
	done
	return 1
}

# wait_until SECONDS CMD...: poll CMD until it succeeds; 1 on timeout.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while ((SECONDS < deadline)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# Blobs under DIR/blobs/sha256 whose content does not match their name; prints them.
bad_blobs() {
	local f hex
	for f in "$1"/blobs/sha256/*; do
		[ -e "$f" ] || continue
		hex=$(sha256sum < "$f" | cut -d' ' -f1)
		[ "$hex" = "$(basename "$f")" ] || echo "$f"
	done
}

store_verify() {
	local name=$1 root=$2 bad
	if [ ! -f "$root/store/index.json" ]; then
		fail "$name" "$root/store/index.json is missing"
		return
	fi
	bad=$(bad_blobs "$root/store")
	if [ -z "$bad" ]; then ok "$name"; else fail "$name" "blobs that do not match their digest:" "$bad"; fi
}

# The manifest digest tagged REF in ROOT's index.json (empty when absent).
store_ref_digest() {
	jq -r --arg r "$2" '.manifests[]? | select(.annotations["org.opencontainers.image.ref.name"] == $r)
		| .digest' "$1/store/index.json" 2> /dev/null
}

# The fixtures, built once and cached.
busybox_fixture() { "$top/tests/fixtures/busybox.sh"; }
debian_fixture() { "$top/tests/fixtures/debian.sh"; }

# Fail the whole test early (with a not ok line) when berth is not built.
require_berth() {
	if [ ! -x "$BERTH" ]; then
		fail "berth binary" "$BERTH is not built; run make build"
		exit 1
	fi
}

# blob_json ROOT DIGEST: a blob of ROOT's store, for jq.
blob_path() { echo "$1/store/blobs/sha256/${2#sha256:}"; }

# chain_ids ROOT MANIFEST_DIGEST: the image's layer chain ids, bottom first, computed here
# from the config's diff ids (chain(1) = diff(1), chain(n) = sha256(chain(n-1) + " " + diff(n))).
chain_ids() { layout_chain_ids "$1/store" "$2"; }
layout_chain_ids() {
	local m cfg prev="" d
	m=$1/blobs/sha256/${2#sha256:}
	cfg=$1/blobs/sha256/$(jq -r .config.digest "$m" | sed 's/^sha256://')
	for d in $(jq -r '.rootfs.diff_ids[]' "$cfg"); do
		if [ -z "$prev" ]; then prev=$d; else
			prev=sha256:$(printf '%s %s' "$prev" "$d" | sha256sum | cut -d' ' -f1)
		fi
		echo "$prev"
	done
}

# layer_dirs ROOT MANIFEST_DIGEST: the unpacked diff/ directories of an image, bottom first.
layer_dirs() {
	local c
	for c in $(chain_ids "$1" "$2"); do echo "$1/layers/${c#sha256:}/diff"; done
}

# check_unpacked NAME ROOT REF: REF is tagged in ROOT and every one of its layers is
# unpacked under layers/<chain id>/diff.
check_unpacked() {
	local name=$1 root=$2 ref=$3 d missing=""
	local m
	m=$(store_ref_digest "$root" "$ref")
	if [ -z "$m" ]; then
		fail "$name" "$ref is not in $root/store/index.json" "$(cat "$root/store/index.json" 2> /dev/null)"
		return
	fi
	local n=0
	for d in $(layer_dirs "$root" "$m"); do
		n=$((n + 1))
		[ -d "$d" ] || missing+=" $d"
	done
	if [ $n -eq 0 ]; then
		fail "$name" "the manifest or config of $ref ($m) is not readable in the store"
	elif [ -z "$missing" ]; then ok "$name"; else fail "$name" "layer directories missing:$missing"; fi
}

# berth_pull ROOT REF [options]: pull quietly into ROOT.
berth_pull() {
	local root=$1
	shift
	"$BERTH" --root "$root" image pull "$@"
}

# top_layer ROOT REF: the unpacked diff/ of REF's top layer; a path that does not exist when
# REF is not in the store, so checks on files under it fail instead of looking at /.
top_layer() {
	local m d
	m=$(store_ref_digest "$1" "$2")
	[ -n "$m" ] && d=$(layer_dirs "$1" "$m" 2> /dev/null | tail -1)
	echo "${d:-$T/no-such-layer-for-$(echo "$2" | tr '/:@' '___')}"
}
