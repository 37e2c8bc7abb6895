#!/bin/bash
# berth's store is a real OCI layout: skopeo and umoci read images back from it by their
# normalised reference (which contains '/' and ':').
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
registry_push "oci:$bb/oci:multi" test/multi:2 || { fail "push multi"; exit 1; }
root=$T/root
check "pull busybox" berth_pull "$root" "$REG_HOST/test/busybox:1"
check "pull multi" berth_pull "$root" "$REG_HOST/test/multi:2"

[ "$(jq -r .imageLayoutVersion "$root/store/oci-layout" 2> /dev/null)" = 1.0.0 ] &&
	ok "store/oci-layout says 1.0.0" || fail "store/oci-layout says 1.0.0"

want=$(awk '$1 == "busybox" {print $2}' "$bb/digests")
ref=$REG_HOST/test/busybox:1
check "skopeo inspect oci:<root>/store:<ref>" skopeo inspect "oci:$root/store:$ref"
[ "$(jq -r .Digest "$T/out" 2> /dev/null)" = "$want" ] && ok "skopeo sees the pulled digest" ||
	fail "skopeo sees the pulled digest" "$(head -5 "$T/out")"
check "skopeo copy out of the store" skopeo copy -q "oci:$root/store:$REG_HOST/test/multi:2" "oci:$T/copy:multi"

check "umoci ls --layout <root>/store" umoci ls --layout "$root/store"
for r in "$REG_HOST/test/busybox:1" "$REG_HOST/test/multi:2"; do
	grep -qxF "$r" "$T/out" && ok "umoci ls lists $r" || fail "umoci ls lists $r" "$(cat "$T/out")"
done
check "umoci unpack --image <root>/store:<ref>" umoci unpack --image "$root/store:$REG_HOST/test/multi:2" "$T/bundle"
rf=$T/bundle/rootfs
if [ -f "$rf/data/keep" ] && [ ! -e "$rf/data/gone" ] && [ -f "$rf/opq/new" ] && [ ! -e "$rf/opq/old1" ] &&
	[ ! -e "$rf/wdir" ] && cmp -s /bin/busybox "$rf/bin/busybox"; then
	ok "umoci's unpack of berth's store has the final files"
else
	fail "umoci's unpack of berth's store has the final files" "$(cd "$rf" 2>&1 && find data opq wdir 2>&1)"
fi
store_verify "store verifies" "$root"
