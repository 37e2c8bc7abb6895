#!/bin/bash
# A blob that is corrupted in the registry's storage (same size, one byte changed) is
# detected: the pull exits 125 with a sentence naming the digest, and nothing wrong is
# stored: no blob, no partial file, no unpacked layer, no tag. Once the registry serves
# the right bytes again, the same root pulls the image fine.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:multi" test/multi:1 || { fail "push multi"; exit 1; }
registry_push "oci:$bb/oci:arm64" test/arm:1 || { fail "push arm64"; exit 1; }
root=$T/root

# flip FILE: change one byte in the middle (same size); keeps the original as FILE.orig.
flip() {
	cp "$1" "$1.orig"
	$PY -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = len(b) // 2
b[i] = (b[i] + 1) % 256 if chr(b[i]) not in "{}[]\":," else b[i]
if b == bytearray(open(p, "rb").read()):
    i += 1
    b[i] = (b[i] + 1) % 256
open(p, "r+b").write(bytes(b))' "$1"
}
restore() { mv "$1.orig" "$1"; }

# 1. A layer (the third layer of "multi", which no other image shares).
mm=$(awk '$1 == "multi" {print $2}' "$bb/digests")
layer=$(jq -r '.layers[2].digest' "$bb/oci/blobs/sha256/${mm#sha256:}")
chain=$(layout_chain_ids "$bb/oci" "$mm" | sed -n 3p)
data=$(registry_blob_data "$layer")
flip "$data"
hex=${layer#sha256:}
EXPECT_MATCH="${hex:0:12}" expect_fail "corrupt layer: pull fails naming $layer" \
	berth_pull "$root" "$REG_HOST/test/multi:1"
[ ! -e "$root/store/blobs/sha256/$hex" ] && ok "corrupt layer: not stored as a blob" ||
	fail "corrupt layer: not stored as a blob"
[ ! -e "$root/ingest/$hex.part" ] && ok "corrupt layer: no partial file kept" ||
	fail "corrupt layer: no partial file kept" "$(ls -la "$root/ingest")"
[ ! -e "$root/layers/${chain#sha256:}" ] && ok "corrupt layer: not unpacked" ||
	fail "corrupt layer: not unpacked"
[ -z "$(store_ref_digest "$root" "$REG_HOST/test/multi:1")" ] && ok "corrupt layer: nothing tagged" ||
	fail "corrupt layer: nothing tagged"
store_verify "corrupt layer: store verifies" "$root"
restore "$data"
check "corrupt layer: pull succeeds once the registry is fixed" berth_pull "$root" "$REG_HOST/test/multi:1"
check_unpacked "corrupt layer: layers unpacked after the fix" "$root" "$REG_HOST/test/multi:1"

# 2. An image config (arm64's is unique to it).
am=$(awk '$1 == "arm64" {print $2}' "$bb/digests")
cfg=$(jq -r '.config.digest' "$bb/oci/blobs/sha256/${am#sha256:}")
data=$(registry_blob_data "$cfg")
flip "$data"
hex=${cfg#sha256:}
EXPECT_MATCH="${hex:0:12}" expect_fail "corrupt config: pull fails naming $cfg" \
	berth_pull "$root" "$REG_HOST/test/arm:1" --platform linux/arm64
[ ! -e "$root/store/blobs/sha256/$hex" ] && ok "corrupt config: not stored as a blob" ||
	fail "corrupt config: not stored as a blob"
[ -z "$(store_ref_digest "$root" "$REG_HOST/test/arm:1")" ] && ok "corrupt config: nothing tagged" ||
	fail "corrupt config: nothing tagged"
store_verify "corrupt config: store verifies" "$root"
restore "$data"
check "corrupt config: pull succeeds once the registry is fixed" \
	berth_pull "$root" "$REG_HOST/test/arm:1" --platform linux/arm64

# 3. A manifest (busybox's) with one digit of its config size changed: the registry
# serves it by digest as stored, so a pull by digest must notice it does not match.
registry_push "oci:$bb/oci:busybox" test/bb:1 || fail "push busybox"
bm=$(awk '$1 == "busybox" {print $2}' "$bb/digests")
data=$(registry_blob_data "$bm")
cp "$data" "$data.orig"
$PY -c 'import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r"\"size\":(\d+)", s)
n = m.group(1)
open(p, "w").write(s[:m.start(1)] + n[:-1] + str((int(n[-1]) + 1) % 10) + s[m.end(1):])' "$data"
cmp -s "$data" "$data.orig" && fail "manifest corrupted in the registry"
hex=${bm#sha256:}
EXPECT_MATCH="${hex:0:12}" expect_fail "corrupt manifest: pull by digest fails naming it" \
	berth_pull "$root" "$REG_HOST/test/bb@$bm"
[ ! -e "$root/store/blobs/sha256/$hex" ] && ok "corrupt manifest: not stored" || fail "corrupt manifest: not stored"
# By tag the registry vouches for what it serves; the config it names then fails its size.
expect_fail "corrupt manifest: pull by tag fails" berth_pull "$root" "$REG_HOST/test/bb:1"
[ -z "$(store_ref_digest "$root" "$REG_HOST/test/bb:1")" ] && ok "corrupt manifest: nothing tagged" ||
	fail "corrupt manifest: nothing tagged"
restore "$data"
check "corrupt manifest: pull by digest succeeds once fixed" berth_pull "$root" "$REG_HOST/test/bb@$bm"
store_verify "store verifies at the end" "$root"
