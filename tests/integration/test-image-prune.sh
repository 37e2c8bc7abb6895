#!/bin/bash
# image prune deletes blobs and unpacked layers that nothing references, and keeps
# everything reachable from index.json or from a hold (<root>/holds/<holder> listing
# manifest digests), including layers shared with a removed image.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
for t in busybox multi big amd64; do
	registry_push "oci:$bb/oci:$t" "test/$t:1" || fail "push $t"
done
root=$T/root
B=("$BERTH" --root "$root")
dig() { awk -v t="$1" '$1 == t {print $2}' "$bb/digests"; }
# blobs_of TAG: manifest, config and layer digests of a fixture image.
blobs_of() {
	local m
	m=$(dig "$1")
	echo "$m"
	jq -r '.config.digest, .layers[].digest' "$bb/oci/blobs/sha256/${m#sha256:}"
}
has_blob() { [ -f "$root/store/blobs/sha256/${1#sha256:}" ]; }
has_layer() { [ -d "$root/layers/${1#sha256:}" ]; }
# expect_present NAME TAG yes|no: all of TAG's blobs and layers present / none unique present.
expect_image() {
	local name=$1 tag=$2 want=$3 d missing="" present=""
	for d in $(blobs_of "$tag"); do
		if has_blob "$d"; then present+=" $d"; else missing+=" $d"; fi
	done
	for d in $(layout_chain_ids "$bb/oci" "$(dig "$tag")"); do
		if has_layer "$d"; then present+=" layer:$d"; else missing+=" layer:$d"; fi
	done
	if [ "$want" = yes ]; then
		[ -z "$missing" ] && ok "$name" || fail "$name" "missing:$missing"
	else
		# Only what the image does not share with busybox must go.
		local shared
		shared=" $(blobs_of busybox | tr '\n' ' ') $(layout_chain_ids "$bb/oci" "$(dig busybox)" | sed 's/^/layer:/' | tr '\n' ' ')"
		local p bad=""
		for p in $present; do
			case "$shared" in *" $p "*) ;; *) bad+=" $p" ;; esac
		done
		[ -z "$bad" ] && ok "$name" || fail "$name" "still present:$bad"
	fi
}

for t in busybox multi big amd64; do
	check "pull $t" berth_pull "$root" "$REG_HOST/test/$t:1"
done
check "prune with everything tagged" "${B[@]}" image prune
for t in busybox multi big amd64; do expect_image "tagged $t kept" $t yes; done

# Leftovers nothing references: a blob and an unpacked layer.
echo stray > "$T/stray"
stray=$(sha256sum "$T/stray" | cut -d' ' -f1)
cp "$T/stray" "$root/store/blobs/sha256/$stray"
fake=$(echo fake | sha256sum | cut -d' ' -f1)
mkdir -p "$root/layers/$fake/diff/etc"

mkdir -p "$root/holds"
echo "$(dig multi)" > "$root/holds/x"
check "rm big and amd64" "${B[@]}" image rm "$REG_HOST/test/big:1" "$REG_HOST/test/amd64:1"
EXPECT_MATCH='x' expect_fail "rm of a held image fails, naming the holder" "${B[@]}" image rm "$REG_HOST/test/multi:1"
check "rm --force of a held image" "${B[@]}" image rm --force "$REG_HOST/test/multi:1"
[ -z "$(store_ref_digest "$root" "$REG_HOST/test/multi:1")" ] && ok "rm --force removes the name" ||
	fail "rm --force removes the name"
check "prune" "${B[@]}" image prune
expect_image "busybox (tagged) kept" busybox yes
expect_image "multi (held by holds/x) kept" multi yes
expect_image "big (unreferenced) removed" big no
expect_image "amd64 (unreferenced) removed" amd64 no
[ ! -e "$root/store/blobs/sha256/$stray" ] && ok "stray blob removed" || fail "stray blob removed"
[ ! -e "$root/layers/$fake" ] && ok "stray layer directory removed" || fail "stray layer directory removed"
check "busybox still inspects" "${B[@]}" image inspect "$REG_HOST/test/busybox:1"
check "skopeo still reads busybox" skopeo inspect "oci:$root/store:$REG_HOST/test/busybox:1"
store_verify "store verifies after prune" "$root"

rm "$root/holds/x"
check "prune after the hold is released" "${B[@]}" image prune
expect_image "multi removed once not held" multi no
expect_image "busybox still kept" busybox yes
check "second prune is a no-op" "${B[@]}" image prune
n_blobs=$(find "$root/store/blobs/sha256" -type f | wc -l)
[ "$n_blobs" = 3 ] && ok "only busybox's three blobs remain" ||
	fail "only busybox's three blobs remain" "$(ls "$root/store/blobs/sha256")"
store_verify "store verifies at the end" "$root"
