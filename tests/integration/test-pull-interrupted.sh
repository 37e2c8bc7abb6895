#!/bin/bash
# A pull killed with SIGKILL in the middle of a large layer leaves only a partial file
# under ingest/ (never a blob that does not match its digest, never a tag); the next pull
# resumes it with an HTTP Range request and completes, leaving no .part behind.
# The registry is reached through a proxy that slows responses down so the kill lands
# mid-layer; the proxy also records the requests.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:big" test/big:1 || { fail "push big"; exit 1; }
throttle_start $((1024 * 1024)) || { fail "proxy starts"; exit 1; }
ref=$PROXY_HOST/test/big:1
root=$T/root
bm=$(awk '$1 == "big" {print $2}' "$bb/digests")
big=$(jq -r '.layers[-1].digest' "$bb/oci/blobs/sha256/${bm#sha256:}")
part=$root/ingest/${big#sha256:}.part

# Run berth itself in the background (not a shell function, which would fork a subshell
# and leave berth running when that is killed).
"$BERTH" --root "$root" image pull "$ref" > "$T/pull1.log" 2>&1 &
pid=$!
defer_kill $pid
part_size() { stat -c %s "$part" 2> /dev/null || echo 0; }
alive() { kill -0 $pid 2> /dev/null; }
if wait_until 60 eval '[ "$(part_size)" -gt 0 ] || ! alive' && alive; then
	s1=$(part_size)
	if wait_until 60 eval '[ "$(part_size)" -gt "$s1" ] || ! alive' && alive; then
		ok "partial download of the big layer is growing"
	else
		fail "partial download of the big layer is growing" "$(cat "$T/pull1.log")"
	fi
else
	fail "partial download of the big layer appears under ingest/" "$(cat "$T/pull1.log")" \
		"ingest: $(ls -la "$root/ingest" 2>&1)"
fi
kill -9 $pid 2> /dev/null
wait $pid 2> /dev/null
killed_at=$(part_size)

bad=$(bad_blobs "$root/store")
[ -z "$bad" ] && ok "no blob mismatches its digest after the kill" ||
	fail "no blob mismatches its digest after the kill" "$bad"
[ ! -e "$root/store/blobs/sha256/${big#sha256:}" ] && ok "the unfinished layer is not a blob" ||
	fail "the unfinished layer is not a blob"
[ -z "$(store_ref_digest "$root" "$ref")" ] && ok "the killed pull tagged nothing" ||
	fail "the killed pull tagged nothing"
big_size=$(jq -r '.layers[-1].size' "$bb/oci/blobs/sha256/${bm#sha256:}")
[ "$killed_at" -gt 0 ] && [ "$killed_at" -lt "$big_size" ] &&
	ok "the partial file is kept for resuming ($killed_at of $big_size bytes)" ||
	fail "the partial file is kept for resuming" "size $killed_at of $big_size"

echo 0 > "$PROXY_RATEFILE"
: > "$PROXY_LOG"
check "the next pull succeeds" berth_pull "$root" "$ref"
if grep -aiqE "^range: *bytes=[1-9][0-9]*-" "$PROXY_LOG"; then ok "the next pull resumes with a Range request"; else
	fail "the next pull resumes with a Range request" "requests:" "$(grep -aE '^(GET|HEAD|Range|range)' "$PROXY_LOG")"
fi
[ ! -e "$part" ] && ok "no .part left after the resumed pull" || fail "no .part left after the resumed pull"
left=$(find "$root/ingest" -type f 2> /dev/null)
[ -z "$left" ] && ok "ingest/ is empty" || fail "ingest/ is empty" "$left"
store_verify "every blob matches its digest" "$root"
check_unpacked "layers unpacked" "$root" "$ref"
d=$(top_layer "$root" "$ref")
if tar -xzOf "$bb/oci/blobs/sha256/${big#sha256:}" ./big/random.bin | cmp -s - "$d/big/random.bin"; then
	ok "the resumed layer's content is intact"
else
	fail "the resumed layer's content is intact"
fi
