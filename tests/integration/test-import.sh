#!/bin/bash
# image import: OCI layout directories (made with umoci), OCI archives (plain, gzip, zstd),
# docker archives (skopeo docker-archive, and hand-made ones with gzip layers, symlinks and
# manifest.json first), root filesystem tars (plain, gzip, zstd); and the failures: not an
# image, empty, missing, hostile names, missing and corrupt blobs.
. "$(dirname "$0")/../lib.sh"
require_berth
bb=$(busybox_fixture)
digest_of() { awk -v t="$1" '$1 == t {print $2}' "$bb/digests"; }
case $(uname -m) in
x86_64) host_tag=amd64 ;;
aarch64) host_tag=arm64 ;;
*) host_tag="" ;;
esac

n_root=0
new_root() { # sets $root to a fresh state root
	n_root=$((n_root + 1))
	root=$T/root$n_root
}

# import NAME ROOT ARGS...: berth --json image import; sets $ref and $dig from its output.
ref="" dig=""
import() {
	local name=$1 root=$2
	shift 2
	check "$name" "$BERTH" --root "$root" --json image import "$@"
	ref=$(jq -r .reference "$T/out" 2> /dev/null)
	dig=$(jq -r .digest "$T/out" 2> /dev/null)
}

# verify NAME ROOT REF DIGEST LAYERS: ls --json lists REF with DIGEST, inspect shows LAYERS
# layers, every layer is unpacked, the bottom one holds bin/busybox, tmp/ is left empty.
verify() {
	local name=$1 root=$2 r=$3 d=$4 n=$5 bottom
	run "$BERTH" --root "$root" image ls --json
	if jq -e --arg r "$r" --arg d "$d" 'map(select(.reference == $r and .digest == $d)) | length == 1' \
		"$T/out" > /dev/null 2>&1; then
		ok "$name: ls --json lists $r"
	else
		fail "$name: ls --json lists $r" "$(_show_run image ls --json)"
	fi
	run "$BERTH" --root "$root" image inspect "$r"
	local got
	got=$(jq -r 'if type == "array" then .[0] else . end | .layers | length' "$T/out" 2> /dev/null)
	[ "$status" = 0 ] && [ "$got" = "$n" ] && ok "$name: inspect shows $n layer(s)" ||
		fail "$name: inspect shows $n layer(s)" "$(_show_run image inspect "$r")"
	check_unpacked "$name: layers unpacked" "$root" "$r"
	bottom=$(layer_dirs "$root" "$d" | head -1)
	[ -n "$bottom" ] && [ -f "$bottom/bin/busybox" ] && [ -L "$bottom/bin/sh" ] &&
		ok "$name: bottom layer has bin/busybox" ||
		fail "$name: bottom layer has bin/busybox" "bottom layer dir: $bottom"
	[ -z "$(ls -A "$root/tmp" 2> /dev/null)" ] && ok "$name: no scratch left in tmp/" ||
		fail "$name: no scratch left in tmp/" "$(ls -la "$root/tmp")"
}

manifest_json() { cat "$(blob_path "$1" "$2")"; }
sha() { echo "sha256:$(sha256sum < "$1" | cut -d' ' -f1)"; }

# ---- root filesystem tars ----
new_root
rootfs_diff=$(sha "$bb/rootfs.tar")
for f in rootfs.tar rootfs.tar.gz rootfs.tar.zst; do
	case $f in
	*.gz) mt=application/vnd.oci.image.layer.v1.tar+gzip ;;
	*.zst) mt=application/vnd.oci.image.layer.v1.tar+zstd ;;
	*) mt=application/vnd.oci.image.layer.v1.tar ;;
	esac
	# Named by content, not by file name: copy to a name without an extension.
	cp "$bb/$f" "$T/$f.bin"
	import "import $f" "$root" "$T/$f.bin" --tag "rootfs:${f#rootfs.}"
	[ "$ref" = "docker.io/library/rootfs:${f#rootfs.}" ] && ok "$f: --tag is normalised" ||
		fail "$f: --tag is normalised" "reference: $ref"
	verify "$f" "$root" "$ref" "$dig" 1
	m=$(manifest_json "$root" "$dig")
	[ "$(jq -r '.layers[0].digest' <<< "$m")" = "$(sha "$bb/$f")" ] &&
		[ "$(jq -r '.layers[0].mediaType' <<< "$m")" = "$mt" ] &&
		ok "$f: the file is the layer blob as it is, with media type $mt" ||
		fail "$f: the file is the layer blob as it is, with media type $mt" "$m"
	cfg=$(manifest_json "$root" "$(jq -r .config.digest <<< "$m")")
	jq -e --arg d "$rootfs_diff" --arg a "${host_tag:-none}" '.rootfs.diff_ids == [$d] and .os == "linux"
		and (.architecture == $a or $a == "none") and (.created | length > 0)
		and .history[0].created_by == "berth image import"' <<< "$cfg" > /dev/null &&
		ok "$f: config has the diff id, linux/$host_tag, created and history" ||
		fail "$f: config has the diff id, linux/$host_tag, created and history" "$cfg"
done

new_root
check "rootfs without --tag, -q" "$BERTH" --root "$root" image import -q "$bb/rootfs.tar"
dig=$(cat "$T/out")
[[ $dig =~ ^sha256:[0-9a-f]{64}$ ]] && ok "-q prints only the digest" || fail "-q prints only the digest" "$dig"
verify "untagged rootfs" "$root" "localhost/import-${dig:7:12}:latest" "$dig" 1
check "import the same file again" "$BERTH" --root "$root" image import "$bb/rootfs.tar"
grep -q "localhost/import-${dig:7:12}:latest" "$T/out" && grep -q "$dig" "$T/out" &&
	ok "the human output names the reference and digest" ||
	fail "the human output names the reference and digest" "$(cat "$T/out")"
[ "$(jq '.manifests | length' "$root/store/index.json")" = 1 ] && ok "re-import keeps one entry" ||
	fail "re-import keeps one entry" "$(cat "$root/store/index.json")"

# ---- OCI layout directories (umoci) ----
new_root
import "OCI layout dir:busybox" "$root" "$bb/oci:busybox"
[ "$dig" = "$(digest_of busybox)" ] && ok "the layout's manifest is imported unchanged" ||
	fail "the layout's manifest is imported unchanged" "got $dig"
[ "$ref" = "localhost/import-${dig:7:12}:latest" ] && ok "a short ref.name does not become the name" ||
	fail "a short ref.name does not become the name" "reference: $ref"
verify "OCI layout" "$root" "$ref" "$dig" 1
import "OCI layout dir:multi --tag" "$root" "$bb/oci:multi" --tag localhost:5000/m:2
[ "$ref" = localhost:5000/m:2 ] && [ "$dig" = "$(digest_of multi)" ] && ok "multi tagged as given" ||
	fail "multi tagged as given" "$ref $dig"
verify "OCI layout, four layers" "$root" "$ref" "$dig" 4
if [ -n "$host_tag" ]; then
	import "OCI layout nested index picks the host platform" "$root" "$bb/oci:multiarch"
	[ "$dig" = "$(digest_of "$host_tag")" ] && ok "multiarch resolved to $host_tag" ||
		fail "multiarch resolved to $host_tag" "got $dig"
fi
EXPECT_MATCH='holds 7 images.*multiarch' expect_fail "several images and no name: error lists them" \
	"$BERTH" --root "$root" image import "$bb/oci"
EXPECT_MATCH='no image named .nosuch.' expect_fail "an unknown name is an error" \
	"$BERTH" --root "$root" image import "$bb/oci:nosuch"

# A layout with one image whose ref.name is a full reference: that is its name.
mkdir -p "$T/one/blobs/sha256"
cp "$bb/oci/oci-layout" "$T/one/"
for b in "$bb"/oci/blobs/sha256/*; do ln "$b" "$T/one/blobs/sha256/" 2> /dev/null || cp "$b" "$T/one/blobs/sha256/"; done
jq '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] == "busybox")
	| .annotations["org.opencontainers.image.ref.name"] = "registry.example.com/team/bb:7")' \
	"$bb/oci/index.json" > "$T/one/index.json"
import "OCI layout with a single image" "$root" "$T/one"
[ "$ref" = registry.example.com/team/bb:7 ] && ok "a full ref.name names the image" ||
	fail "a full ref.name names the image" "reference: $ref"

# ---- OCI archives ----
new_root
import "OCI archive" "$root" "$bb/busybox-oci.tar"
verify "OCI archive" "$root" "$ref" "$dig" 1
gzip -c "$bb/busybox-oci.tar" > "$T/oci.tgz"
zstd -q -c "$bb/busybox-oci.tar" > "$T/oci.tzst"
new_root
import "gzip OCI archive" "$root" "$T/oci.tgz"
verify "gzip OCI archive" "$root" "$ref" "$dig" 1
new_root
import "zstd OCI archive" "$root" "$T/oci.tzst"
verify "zstd OCI archive" "$root" "$ref" "$dig" 1
# A tar of a umoci layout (with "./" names), picked by name.
tar -C "$bb/oci" -cf "$T/layout.tar" .
import "tar of a layout, :multi" "$root" "$T/layout.tar:multi"
[ "$dig" = "$(digest_of multi)" ] && ok "archive picks multi by name" || fail "archive picks multi by name" "$dig"
verify "tar of a layout" "$root" "$ref" "$dig" 4

# ---- docker archives ----
new_root
import "docker archive (skopeo)" "$root" "$bb/busybox-docker.tar"
[ "$ref" = docker.io/library/busybox:1 ] && ok "RepoTags[0] names the image" ||
	fail "RepoTags[0] names the image" "reference: $ref"
verify "docker archive" "$root" "$ref" "$dig" 1
m=$(manifest_json "$root" "$dig")
jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json" and
	.layers[0].mediaType == "application/vnd.oci.image.layer.v1.tar"' <<< "$m" > /dev/null &&
	ok "docker archive becomes an OCI manifest with an uncompressed layer" ||
	fail "docker archive becomes an OCI manifest with an uncompressed layer" "$m"
import "docker archive by name" "$root" "$bb/busybox-docker.tar:busybox:1" --tag other:1
[ "$ref" = docker.io/library/other:1 ] && ok "--tag wins over RepoTags" || fail "--tag wins over RepoTags" "$ref"

# Hand-made docker archives: gzip layer behind a symlink, manifest.json first; and hostile ones.
bm=$bb/oci/blobs/sha256/$(digest_of busybox | cut -c8-)
cfg_blob=$bb/oci/blobs/sha256/$(jq -r .config.digest "$bm" | cut -c8-)
layer_blob=$bb/oci/blobs/sha256/$(jq -r '.layers[0].digest' "$bm" | cut -c8-)
mkdocker() { # mkdocker OUT MODE
	"$PY" - "$1" "$2" "$cfg_blob" "$layer_blob" << 'PYEOF'
import gzip, hashlib, io, json, sys, tarfile
out, mode, cfg_path, layer_path = sys.argv[1:5]
cfg = open(cfg_path, "rb").read()
gz = open(layer_path, "rb").read()
raw = gzip.decompress(gz)
h = lambda b: hashlib.sha256(b).hexdigest()
lid = "a" * 64
entries = []
layers = [lid + "/layer.tar"]
if mode == "wrong-diff":
    c = json.loads(cfg)
    c["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    cfg = json.dumps(c).encode()
cname = h(cfg) + ".json"
if mode == "missing":
    layers = ["b" * 64 + "/layer.tar"]
elif mode == "dotdot":
    layers = ["../" + h(raw) + ".tar"]
if mode in ("gz", "missing", "dotdot"):
    entries.append((h(gz) + ".tar.gz", gz))
    entries.append((lid + "/layer.tar", ("sym", "../" + h(gz) + ".tar.gz")))
elif mode == "hardlink":
    entries.append(("./" + h(raw) + ".tar", raw))
    entries.append((lid + "/layer.tar", ("lnk", "./" + h(raw) + ".tar")))
elif mode == "dup":
    entries.append((lid + "/layer.tar", raw))
    entries.append((lid + "/layer.tar", gz))
elif mode == "loop":
    entries.append((lid + "/layer.tar", ("sym", "json")))
    entries.append((lid + "/json", ("sym", "layer.tar")))
elif mode == "escape":
    entries.append((lid + "/layer.tar", ("sym", "../../../../etc/passwd")))
else:
    entries.append((lid + "/layer.tar", raw))
entries.append((cname, cfg))
man = json.dumps([{"Config": cname, "RepoTags": ["hand/made:" + mode], "Layers": layers}]).encode()
entries.insert(0, ("manifest.json", man))
with tarfile.open(out, "w") as t:
    for name, data in entries:
        ti = tarfile.TarInfo(name)
        if isinstance(data, tuple):
            ti.type = tarfile.SYMTYPE if data[0] == "sym" else tarfile.LNKTYPE
            ti.linkname = data[1]
            t.addfile(ti)
        else:
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
PYEOF
}
for mode in gz hardlink missing dotdot escape wrong-diff dup loop; do mkdocker "$T/docker-$mode.tar" $mode; done
new_root
import "docker archive: gzip layer via symlink, manifest.json first" "$root" "$T/docker-gz.tar"
[ "$ref" = docker.io/hand/made:gz ] && ok "hand-made archive named by RepoTags" || fail "hand-made archive named by RepoTags" "$ref"
verify "docker archive with a gzip layer" "$root" "$ref" "$dig" 1
jq -e '.layers[0].mediaType == "application/vnd.oci.image.layer.v1.tar+gzip"' \
	<<< "$(manifest_json "$root" "$dig")" > /dev/null && ok "gzip layer gets the gzip media type" ||
	fail "gzip layer gets the gzip media type" "$(manifest_json "$root" "$dig")"
import "docker archive: layer via a hard link" "$root" "$T/docker-hardlink.tar"
verify "docker archive with a hard-linked layer" "$root" "$ref" "$dig" 1

new_root
EXPECT_MATCH="names 'b{64}/layer.tar', which the archive does not contain" expect_fail \
	"docker archive referencing a missing layer" "$BERTH" --root "$root" image import "$T/docker-missing.tar"
EXPECT_MATCH='leaves the archive' expect_fail "docker archive with a '..' layer name" \
	"$BERTH" --root "$root" image import "$T/docker-dotdot.tar"
EXPECT_MATCH='outside the archive' expect_fail "docker archive with an escaping symlink" \
	"$BERTH" --root "$root" image import "$T/docker-escape.tar"
EXPECT_MATCH='diff id' expect_fail "docker archive whose config diff ids do not match" \
	"$BERTH" --root "$root" image import "$T/docker-wrong-diff.tar"
EXPECT_MATCH='more than once' expect_fail "docker archive with a layer name twice" \
	"$BERTH" --root "$root" image import "$T/docker-dup.tar"
EXPECT_MATCH='more than 16 deep' expect_fail "docker archive with a symlink loop" \
	"$BERTH" --root "$root" image import "$T/docker-loop.tar"
[ "$(jq '.manifests | length' "$root/store/index.json" 2> /dev/null || echo 0)" = 0 ] &&
	ok "failed docker imports tag nothing" || fail "failed docker imports tag nothing" "$(cat "$root/store/index.json")"
[ -z "$(ls -A "$root/tmp" 2> /dev/null)" ] && ok "failed imports leave no scratch" ||
	fail "failed imports leave no scratch" "$(ls -la "$root/tmp")"

# ---- what is not an image ----
new_root
head -c 100000 /dev/urandom > "$T/random.bin"
EXPECT_MATCH='neither an OCI layout, an OCI or docker archive, nor a root filesystem tar' \
	expect_fail "random bytes" "$BERTH" --root "$root" image import "$T/random.bin"
gzip -c "$T/random.bin" > "$T/random.gz"
EXPECT_MATCH='neither an OCI layout' expect_fail "gzip of random bytes" \
	"$BERTH" --root "$root" image import "$T/random.gz"
: > "$T/empty"
EXPECT_MATCH='is empty' expect_fail "empty file" "$BERTH" --root "$root" image import "$T/empty"
mkdir -p "$T/plain-dir/blobs"
EXPECT_MATCH='not an OCI image layout' expect_fail "directory without oci-layout" \
	"$BERTH" --root "$root" image import "$T/plain-dir"
EXPECT_MATCH='does not exist' expect_fail "missing path" "$BERTH" --root "$root" image import "$T/nosuch.tar"
tar -cf "$T/empty.tar" -T /dev/null
EXPECT_MATCH='without any files' expect_fail "tar without entries" "$BERTH" --root "$root" image import "$T/empty.tar"
EXPECT_MATCH='needs exactly one PATH' expect_fail "no PATH" "$BERTH" --root "$root" image import
EXPECT_MATCH='root filesystem tar.*--tag' expect_fail "a name picks nothing in a rootfs tar" \
	"$BERTH" --root "$root" image import "$bb/rootfs.tar:foo"
EXPECT_MATCH='digest but no tag' expect_fail "--tag with only a digest" \
	"$BERTH" --root "$root" image import "$bb/rootfs.tar" --tag "x@sha256:$(printf '%064d' 0)"
EXPECT_MATCH='--tag' expect_fail "--tag with an invalid reference" \
	"$BERTH" --root "$root" image import "$bb/rootfs.tar" --tag 'UPPER/Case:1'
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	# A file only root may read, imported by nobody into nobody's own root.
	u=$(mktemp -d /tmp/berth-import-test.XXXXXX)
	defer_rm "$u"
	chmod 755 "$u"
	cp "$bb/rootfs.tar" "$u/secret.tar"
	chmod 600 "$u/secret.tar"
	mkdir "$u/root"
	chown 65534:65534 "$u/root"
	EXPECT_MATCH='Cannot read .*secret.tar: permission denied' expect_fail "unreadable file" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$BERTH" --root "$u/root" image import "$u/secret.tar"
fi
check "--help" "$BERTH" image import --help
grep -q -- '--tag' "$T/out" && ok "--help documents --tag" || fail "--help documents --tag" "$(cat "$T/out")"

# ---- corrupt and incomplete layouts ----
mklayout() { # copy of the fixture layout (hard links are not safe: we corrupt files)
	rm -rf "$1"
	cp -r "$bb/oci" "$1"
}
bad_layer=$(jq -r '.layers[0].digest' "$bm")
mklayout "$T/bad-oci"
f=$T/bad-oci/blobs/sha256/${bad_layer#sha256:}
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
new_root
EXPECT_MATCH="${bad_layer:0:20}" expect_fail "OCI layout with a corrupt layer blob" \
	"$BERTH" --root "$root" image import "$T/bad-oci:busybox"
[ -z "$(store_ref_digest "$root" "localhost/import-$(digest_of busybox | cut -c8-19):latest")" ] &&
	[ "$(jq '.manifests | length' "$root/store/index.json" 2> /dev/null || echo 0)" = 0 ] &&
	ok "corrupt layout: nothing tagged" || fail "corrupt layout: nothing tagged" "$(cat "$root/store/index.json")"
[ ! -e "$(blob_path "$root" "$bad_layer")" ] && ok "corrupt layout: the bad blob is not in the store" ||
	fail "corrupt layout: the bad blob is not in the store"
tar -C "$T/bad-oci" -cf "$T/bad-oci.tar" .
EXPECT_MATCH="corrupt" expect_fail "OCI archive with a corrupt blob" \
	"$BERTH" --root "$root" image import "$T/bad-oci.tar:busybox"
mklayout "$T/missing-oci"
rm "$T/missing-oci/blobs/sha256/${bad_layer#sha256:}"
EXPECT_MATCH="${bad_layer:0:20}.*missing" expect_fail "OCI layout with a missing blob" \
	"$BERTH" --root "$root" image import "$T/missing-oci:busybox"
[ "$(jq '.manifests | length' "$root/store/index.json" 2> /dev/null || echo 0)" = 0 ] &&
	ok "failed OCI imports tag nothing" || fail "failed OCI imports tag nothing"
store_verify "every stored blob matches its digest" "$root"

for ((i = 1; i <= n_root; i++)); do
	[ -d "$T/root$i/store" ] && store_verify "root$i: blobs match their digests" "$T/root$i"
done
