#!/bin/bash
# Layers compressed with gzip, with zstd (skopeo --dest-compress-format zstd) and stored
# uncompressed all pull and unpack to the same files.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/gzip:1 || fail "push gzip"
# skopeo compresses the uncompressed layer with zstd into a fresh layout (a push straight
# to the registry could reuse a gzip variant it remembers), then it is pushed as it is.
skopeo copy -q --dest-compress-format zstd "oci:$bb/oci:uncompressed" "oci:$T/zstd:zstd" &&
	registry_push_raw "$T/zstd" zstd test/zstd:1 || fail "push zstd"
registry_push_raw "$bb/oci" uncompressed test/plain:1 || fail "push uncompressed"

for kind in gzip zstd plain; do
	ref=$REG_HOST/test/$kind:1
	root=$T/root-$kind
	mt=$(skopeo inspect --raw --tls-verify=false "docker://$ref" | jq -r '.layers[0].mediaType')
	case $kind in
	gzip) want_mt='application/vnd.oci.image.layer.v1.tar+gzip' ;;
	zstd) want_mt='application/vnd.oci.image.layer.v1.tar+zstd' ;;
	plain) want_mt='application/vnd.oci.image.layer.v1.tar' ;;
	esac
	if [ "$mt" != "$want_mt" ]; then
		fail "$kind: fixture has a $want_mt layer" "registry has $mt"
		continue
	fi
	check "$kind: pull" berth_pull "$root" "$ref"
	check_unpacked "$kind: layers unpacked" "$root" "$ref"
	d=$(top_layer "$root" "$ref")
	if cmp -s /bin/busybox "$d/bin/busybox" && [ -L "$d/bin/sh" ] &&
		[ "$(cat "$d/etc/hostname" 2> /dev/null)" = busybox ]; then
		ok "$kind: files unpacked intact"
	else
		fail "$kind: files unpacked intact" "in $d"
	fi
	if [ "$(stat -c %a "$d/tmp" 2> /dev/null)" = 1777 ] && [ "$(stat -c %a "$d/etc/shadow" 2> /dev/null)" = 640 ]; then
		ok "$kind: modes kept (tmp 1777, etc/shadow 640)"
	else
		fail "$kind: modes kept (tmp 1777, etc/shadow 640)" "$(stat -c '%a %n' "$d/tmp" "$d/etc/shadow" 2>&1)"
	fi
	store_verify "$kind: store verifies" "$root"
done

# All three have the same diff id, so in one root the layer is unpacked once.
root=$T/shared
for kind in gzip zstd plain; do
	check "shared root: pull $kind" berth_pull "$root" "$REG_HOST/test/$kind:1"
done
n=$(find "$root/layers" -mindepth 1 -maxdepth 1 -type d 2> /dev/null | wc -l)
[ "$n" = 1 ] && ok "shared root: one unpacked layer for the three" ||
	fail "shared root: one unpacked layer for the three" "$(ls "$root/layers" 2>&1)"
store_verify "shared root: store verifies" "$root"
