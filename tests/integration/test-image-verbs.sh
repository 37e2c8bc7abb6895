#!/bin/bash
# image ls (table, --json, -q), inspect (JSON), tag and rm against pulled images.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
registry_push "oci:$bb/oci:multi" test/multi:1 || { fail "push multi"; exit 1; }
root=$T/root
B=("$BERTH" --root "$root")
bref=$REG_HOST/test/busybox:1
mref=$REG_HOST/test/multi:1
bd=$(awk '$1 == "busybox" {print $2}' "$bb/digests")
md=$(awk '$1 == "multi" {print $2}' "$bb/digests")

check "ls on an empty store" "${B[@]}" image ls
check "ls --json on an empty store" "${B[@]}" image ls --json
[ "$(jq -c . "$T/out" 2> /dev/null)" = "[]" ] && ok "ls --json of an empty store is []" ||
	fail "ls --json of an empty store is []" "$(cat "$T/out")"

check "pull busybox" berth_pull "$root" "$bref"
check "pull multi" berth_pull "$root" "$mref"

check "ls" "${B[@]}" image ls
grep -q "$REG_HOST/test/busybox" "$T/out" && grep -q "$REG_HOST/test/multi" "$T/out" &&
	ok "ls lists both images" || fail "ls lists both images" "$(cat "$T/out")"
grep -q "${bd:7:12}" "$T/out" && ok "ls shows the image id" || fail "ls shows the image id" "$(cat "$T/out")"
check "ls --json" "${B[@]}" image ls --json
jq -e --arg r "$bref" --arg d "$bd" 'map(select(.reference == $r and .digest == $d)) | length == 1' "$T/out" > /dev/null &&
	ok "ls --json has busybox with its digest" || fail "ls --json has busybox with its digest" "$(cat "$T/out")"
[ "$(jq length "$T/out")" = 2 ] && ok "ls --json has two entries" || fail "ls --json has two entries"
check "global --json before the verb" "$BERTH" --root "$root" --json image ls
jq -e 'length == 2' "$T/out" > /dev/null && ok "global --json gives JSON" || fail "global --json gives JSON"
check "ls -q" "${B[@]}" image ls -q
[ "$(sort "$T/out" | tr '\n' ' ')" = "$(printf '%s\n' "${bd:7:12}" "${md:7:12}" | sort | tr '\n' ' ')" ] &&
	ok "ls -q prints the two ids" || fail "ls -q prints the two ids" "$(cat "$T/out")"

check "inspect" "${B[@]}" image inspect "$mref"
one() { jq 'if type == "array" then .[0] else . end' "$T/out"; }
[ "$(one | jq -r .digest)" = "$md" ] && ok "inspect shows the digest" || fail "inspect shows the digest" "$(cat "$T/out")"
[ "$(one | jq -r '.layers | length')" = 4 ] && ok "inspect shows four layers" || fail "inspect shows four layers"
[ "$(one | jq -r .architecture)" = amd64 ] && [ "$(one | jq -r .os)" = linux ] &&
	ok "inspect shows linux/amd64" || fail "inspect shows linux/amd64"
check "inspect by id prefix" "${B[@]}" image inspect "${md:7:12}"
[ "$(one | jq -r .digest)" = "$md" ] && ok "id prefix resolves" || fail "id prefix resolves"
check "inspect by full digest" "${B[@]}" image inspect "$md"
EXPECT_MATCH='nosuch' expect_fail "inspect of a missing image fails" "${B[@]}" image inspect "$REG_HOST/test/nosuch:1"

check "tag" "${B[@]}" image tag "$bref" mybox:2
[ "$(store_ref_digest "$root" docker.io/library/mybox:2)" = "$bd" ] &&
	ok "tag adds docker.io/library/mybox:2 with the same digest" ||
	fail "tag adds docker.io/library/mybox:2 with the same digest" "$(cat "$root/store/index.json")"
check "inspect the new tag" "${B[@]}" image inspect mybox:2
check "tag over an existing tag moves it" "${B[@]}" image tag "$mref" mybox:2
[ "$(store_ref_digest "$root" docker.io/library/mybox:2)" = "$md" ] && ok "retagged to multi" ||
	fail "retagged to multi"
n=$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/library/mybox:2")] | length' "$root/store/index.json")
[ "$n" = 1 ] && ok "one index entry per reference" || fail "one index entry per reference" "$n entries"
EXPECT_MATCH='nosuch' expect_fail "tag of a missing image fails" "${B[@]}" image tag nosuch:1 other:1
expect_fail "tag to a bad reference fails" "${B[@]}" image tag "$bref" 'Bad Ref'

check "rm the new tag" "${B[@]}" image rm mybox:2
[ -z "$(store_ref_digest "$root" docker.io/library/mybox:2)" ] && ok "rm removes the reference" ||
	fail "rm removes the reference"
[ "$(store_ref_digest "$root" "$mref")" = "$md" ] && ok "rm keeps the other reference to that image" ||
	fail "rm keeps the other reference to that image"
EXPECT_MATCH='mybox' expect_fail "rm of a missing reference fails" "${B[@]}" image rm mybox:2
check "rm two at once" "${B[@]}" image rm "$bref" "$mref"
check "ls --json after rm" "${B[@]}" image ls --json
[ "$(jq length "$T/out")" = 0 ] && ok "store lists nothing after rm" || fail "store lists nothing after rm" "$(cat "$T/out")"
expect_fail "unknown verb fails" "${B[@]}" image frobnicate
check "image --help" "${B[@]}" image --help
store_verify "store verifies" "$root"
