#!/bin/bash
# The connection to the registry drops in the middle of a large layer (the proxy in front
# of it is killed): the pull fails with exit 125 and a sentence instead of hanging or
# storing a short blob; the partial file stays; once the registry is reachable again the
# next pull resumes it with a Range request and completes.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:big" test/big:1 || { fail "push big"; exit 1; }
throttle_start $((1024 * 1024)) || { fail "proxy starts"; exit 1; }
port=${PROXY_HOST##*:}
ref=$PROXY_HOST/test/big:1
root=$T/root
bm=$(awk '$1 == "big" {print $2}' "$bb/digests")
big=$(jq -r '.layers[-1].digest' "$bb/oci/blobs/sha256/${bm#sha256:}")
part=$root/ingest/${big#sha256:}.part

"$BERTH" --root "$root" image pull "$ref" > "$T/pull1.out" 2> "$T/pull1.err" &
pid=$!
defer_kill $pid
part_size() { stat -c %s "$part" 2> /dev/null || echo 0; }
if wait_until 60 eval '[ "$(part_size)" -gt 0 ] || ! kill -0 $pid 2> /dev/null'; then
	ok "download of the big layer started"
else
	fail "download of the big layer started" "$(cat "$T/pull1.err")"
fi
kill -9 "$PROXY_PID"
wait "$PROXY_PID" 2> /dev/null
# berth may retry; it must give up with a sentence, not hang (the proxy stays down).
if wait_until 120 eval '! kill -0 $pid 2> /dev/null'; then
	wait $pid
	st=$?
	[ $st = 125 ] && [ "$(wc -w < "$T/pull1.err")" -ge 4 ] && ok "dropped connection: exit 125 with a sentence" ||
		fail "dropped connection: exit 125 with a sentence" "exit $st" "$(cat "$T/pull1.err")"
	echo "# $(head -c 300 "$T/pull1.err")"
else
	fail "dropped connection: berth gives up within 120 s"
fi
bad=$(bad_blobs "$root/store")
[ -z "$bad" ] && ok "no blob mismatches its digest" || fail "no blob mismatches its digest" "$bad"
[ ! -e "$root/store/blobs/sha256/${big#sha256:}" ] && ok "the short layer is not a blob" ||
	fail "the short layer is not a blob"
[ -z "$(store_ref_digest "$root" "$ref")" ] && ok "nothing tagged" || fail "nothing tagged"
[ "$(part_size)" -gt 0 ] && ok "the partial file is kept" || fail "the partial file is kept"

throttle_start 0 "$port" || { fail "proxy restarts on port $port"; exit 1; }
check "the next pull succeeds" berth_pull "$root" "$ref"
grep -aiqE "^range: *bytes=[1-9][0-9]*-" "$PROXY_LOG" && ok "the next pull resumes with a Range request" ||
	fail "the next pull resumes with a Range request" "$(grep -aE '^(GET|HEAD)' "$PROXY_LOG")"
[ ! -e "$part" ] && ok "no .part left" || fail "no .part left"
store_verify "every blob matches its digest" "$root"
check_unpacked "layers unpacked" "$root" "$ref"
