#!/bin/bash
# Two pulls of the same image into one root at the same time both succeed, and the store
# is consistent afterwards (one tag, every blob verifies, layers unpacked, nothing left in
# ingest/ or tmp/). The big image is slowed down so the two really overlap.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:big" test/big:1 || { fail "push big"; exit 1; }
registry_push "oci:$bb/oci:multi" test/multi:1 || { fail "push multi"; exit 1; }
throttle_start $((8 * 1024 * 1024)) || { fail "proxy starts"; exit 1; }
root=$T/root

for img in big multi; do
	ref=$PROXY_HOST/test/$img:1
	"$BERTH" --root "$root" image pull "$ref" > "$T/a.log" 2>&1 &
	a=$!
	defer_kill $a
	"$BERTH" --root "$root" image pull "$ref" > "$T/b.log" 2>&1 &
	b=$!
	defer_kill $b
	wait $a
	sa=$?
	wait $b
	sb=$?
	[ $sa = 0 ] && ok "$img: first concurrent pull succeeds" || fail "$img: first concurrent pull succeeds" "$(cat "$T/a.log")"
	[ $sb = 0 ] && ok "$img: second concurrent pull succeeds" || fail "$img: second concurrent pull succeeds" "$(cat "$T/b.log")"
	n=$(jq --arg r "$ref" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)] | length' "$root/store/index.json")
	[ "$n" = 1 ] && ok "$img: tagged once" || fail "$img: tagged once" "$n entries"
	check_unpacked "$img: layers unpacked" "$root" "$ref"
	store_verify "$img: store verifies" "$root"
done
left=$(find "$root/ingest" "$root/tmp" -mindepth 1 2> /dev/null)
[ -z "$left" ] && ok "nothing left in ingest/ or tmp/" || fail "nothing left in ingest/ or tmp/" "$left"
