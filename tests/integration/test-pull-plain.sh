#!/bin/bash
# Pull from a plain-HTTP registry on 127.0.0.1: the image is stored, tagged with its
# normalised reference, unpacked, and a second pull (by tag and by digest) is a no-op.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
want=$(awk '$1 == "busybox" {print $2}' "$bb/digests")
root=$T/root
ref=$REG_HOST/test/busybox:1

check "pull from a plain registry" berth_pull "$root" "$ref"
got=$(store_ref_digest "$root" "$ref")
if [ "$got" = "$want" ]; then ok "tagged with the pushed manifest digest"; else
	fail "tagged with the pushed manifest digest" "want $want, index.json has '$got'"
fi
check_unpacked "layers unpacked" "$root" "$ref"
top_layer=$(top_layer "$root" "$ref")
if cmp -s /bin/busybox "$top_layer/bin/busybox"; then ok "busybox binary unpacked intact"; else
	fail "busybox binary unpacked intact" "$top_layer/bin/busybox differs from /bin/busybox"
fi
if [ "$(readlink "$top_layer/bin/sh")" = busybox ]; then ok "applet symlink unpacked"; else
	fail "applet symlink unpacked" "bin/sh -> '$(readlink "$top_layer/bin/sh")'"
fi
if [ -z "$(ls -A "$root/ingest" 2> /dev/null)" ]; then ok "no partial downloads left"; else
	fail "no partial downloads left" "$(ls -la "$root/ingest")"
fi

# The entries (reference -> digest), ignoring the time stamp berth records.
entries() { jq -c '[.manifests[] | del(.annotations["io.berth.image.created"])]' "$root/store/index.json" 2>&1; }
before=$(entries)
check "pulling again succeeds" berth_pull "$root" "$ref"
if [ "$before" = "$(entries)" ]; then ok "pulling again leaves the index entries as they were"; else
	fail "pulling again leaves the index entries as they were" "before: $before" "after: $(entries)"
fi
check "pull by digest" berth_pull "$root" "$REG_HOST/test/busybox@$want"
check "pull with --debug -q" "$BERTH" --root "$root" --debug -q image pull "$ref"

# A fresh root given by $BERTH_ROOT instead of --root.
check "pull into \$BERTH_ROOT" env BERTH_ROOT="$T/root2" "$BERTH" image pull "$ref"
[ "$(store_ref_digest "$T/root2" "$ref")" = "$want" ] && ok "\$BERTH_ROOT store has the image" ||
	fail "\$BERTH_ROOT store has the image"

EXPECT_MATCH='nope' expect_fail "missing tag fails" \
	berth_pull "$root" "$REG_HOST/test/busybox:nope"
EXPECT_MATCH='nothere' expect_fail "missing repository fails" \
	berth_pull "$root" "$REG_HOST/test/nothere:1"
port=$(free_port)
EXPECT_MATCH="$port" expect_fail "unreachable registry fails" berth_pull "$root" "127.0.0.1:$port/test/busybox:1"
store_verify "store verifies" "$root"
store_verify "\$BERTH_ROOT store verifies" "$T/root2"
