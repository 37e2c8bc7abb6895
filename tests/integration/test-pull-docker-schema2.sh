#!/bin/bash
# Images in Docker's formats, as most registries serve them: a schema 2 manifest with
# docker layer media types, and a manifest list over two platforms.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/v2:1 --format v2s2 || fail "push schema 2"
registry_push "oci:$bb/oci:multiarch" test/list:1 --all --format v2s2 || fail "push manifest list"
mt() { skopeo inspect --raw --tls-verify=false "docker://$REG_HOST/$1" | jq -r .mediaType; }
[ "$(mt test/v2:1)" = application/vnd.docker.distribution.manifest.v2+json ] &&
	[ "$(mt test/list:1)" = application/vnd.docker.distribution.manifest.list.v2+json ] &&
	ok "registry serves Docker media types" || fail "registry serves Docker media types"

root=$T/root
check "pull a schema 2 image" berth_pull "$root" "$REG_HOST/test/v2:1"
check_unpacked "schema 2: layers unpacked" "$root" "$REG_HOST/test/v2:1"
cmp -s /bin/busybox "$(top_layer "$root" "$REG_HOST/test/v2:1")/bin/busybox" &&
	ok "schema 2: files unpacked" || fail "schema 2: files unpacked"
# The store must stay readable by OCI tools (skopeo 1.9 and umoci only take OCI media types
# from an OCI layout's index.json).
check "schema 2: skopeo reads it back from the store" skopeo inspect "oci:$root/store:$REG_HOST/test/v2:1"
check "schema 2: umoci reads it back from the store" umoci stat --image "$root/store:$REG_HOST/test/v2:1"

# Stored as skopeo stores it in an oci: layout: an OCI manifest over the same config and
# layer blobs, the registry's manifest digest recorded beside it.
ref=$REG_HOST/test/v2:1
regd=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$ref" | sha256sum | cut -d' ' -f1)
skopeo inspect --raw --tls-verify=false "docker://$ref" > "$T/registry-manifest.json"
sd=$(store_ref_digest "$root" "$ref")
entry() { jq -c --arg r "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)' "$1/store/index.json"; }
[ "$(entry "$root" "$ref" | jq -r .mediaType)" = application/vnd.oci.image.manifest.v1+json ] &&
	ok "schema 2: index.json names an OCI manifest" || fail "schema 2: index.json names an OCI manifest" "$(entry "$root" "$ref")"
[ -n "$sd" ] && [ "$sd" != "$regd" ] && [ "$(entry "$root" "$ref" | jq -r '.annotations["io.berth.source.digest"]')" = "$regd" ] &&
	ok "schema 2: the registry digest is kept as io.berth.source.digest" ||
	fail "schema 2: the registry digest is kept as io.berth.source.digest" "registry $regd" "$(entry "$root" "$ref")"
sm=$(blob_path "$root" "$sd")
if jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json" and
	.config.mediaType == "application/vnd.oci.image.config.v1+json" and
	(.layers | length > 0) and all(.layers[]; .mediaType == "application/vnd.oci.image.layer.v1.tar+gzip")' "$sm" > /dev/null 2>&1 &&
	[ "$(jq -c '[.config.digest, .config.size, (.layers[] | .digest, .size)]' "$sm")" = \
		"$(jq -c '[.config.digest, .config.size, (.layers[] | .digest, .size)]' "$T/registry-manifest.json")" ] &&
	[ "$(entry "$root" "$ref" | jq -r .size)" = "$(stat -c %s "$sm")" ]; then
	ok "schema 2: OCI media types over the registry's config and layer blobs"
else
	fail "schema 2: OCI media types over the registry's config and layer blobs" "$(cat "$sm" 2>&1)" "$(cat "$T/registry-manifest.json")"
fi
check "schema 2: inspect by the registry digest" "$BERTH" --root "$root" image inspect "$regd"
[ "$(jq -r '.[0].digest' "$T/out")" = "$sd" ] && [ "$(jq -r '.[0].sourceDigest' "$T/out")" = "$regd" ] &&
	[ "$(jq -r '.[0].mediaType' "$T/out")" = application/vnd.oci.image.manifest.v1+json ] &&
	ok "schema 2: inspect shows the stored and the registry digest" ||
	fail "schema 2: inspect shows the stored and the registry digest" "stored $sd, registry $regd" "$(cat "$T/out")"
check "schema 2: pull again by tag" berth_pull "$root" "$ref"
[ "$(store_ref_digest "$root" "$ref")" = "$sd" ] && ok "schema 2: the same OCI manifest again" ||
	fail "schema 2: the same OCI manifest again" "$(cat "$root/store/index.json")"
check "schema 2: pull by the registry digest" berth_pull "$root" "$REG_HOST/test/v2@$regd"
[ "$(cat "$T/out")" = "$sd" ] && [ "$(store_ref_digest "$root" "$REG_HOST/test/v2@$regd")" = "$sd" ] &&
	ok "schema 2: a pull by registry digest finds the stored image" ||
	fail "schema 2: a pull by registry digest finds the stored image" "printed $(cat "$T/out"), stored $sd" "$(cat "$root/store/index.json")"
check "schema 2: tag it" "$BERTH" --root "$root" image tag "$ref" v2copy:1
[ "$(entry "$root" docker.io/library/v2copy:1 | jq -r '.annotations["io.berth.source.digest"]')" = "$regd" ] &&
	ok "schema 2: a new name keeps the registry digest" ||
	fail "schema 2: a new name keeps the registry digest" "$(cat "$root/store/index.json")"
# A fresh root pulling by the registry digest stores the same OCI manifest.
check "schema 2: pull by digest into a fresh root" berth_pull "$T/root-d" "$REG_HOST/test/v2@$regd"
[ "$(cat "$T/out")" = "$sd" ] && ok "schema 2: pull by digest stores the same OCI manifest" ||
	fail "schema 2: pull by digest stores the same OCI manifest" "printed $(cat "$T/out"), want $sd"

# An OCI layout holding the Docker manifest as it is (some tools write those): import
# converts it the same way.
lay=$T/docker-layout
if skopeo copy -q --src-tls-verify=false "docker://$ref" "dir:$T/dir" && mkdir -p "$lay/blobs/sha256"; then
	for f in "$T"/dir/*; do
		case $(basename "$f") in manifest.json | version) ;; *) cp "$f" "$lay/blobs/sha256/$(basename "$f")" ;; esac
	done
	cp "$T/registry-manifest.json" "$lay/blobs/sha256/${regd#sha256:}"
	echo '{"imageLayoutVersion":"1.0.0"}' > "$lay/oci-layout"
	jq -n -c --arg d "$regd" --argjson s "$(stat -c %s "$T/registry-manifest.json")" '{schemaVersion: 2,
		manifests: [{mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $d, size: $s,
		annotations: {"org.opencontainers.image.ref.name": "v2"}}]}' > "$lay/index.json"
fi
check "schema 2: import an OCI layout with a Docker manifest" "$BERTH" --root "$T/root-i" image import "$lay" --tag imported:1
[ "$(store_ref_digest "$T/root-i" docker.io/library/imported:1)" = "$sd" ] &&
	[ "$(entry "$T/root-i" docker.io/library/imported:1 | jq -r '.annotations["io.berth.source.digest"]')" = "$regd" ] &&
	ok "schema 2: import stores the same OCI manifest" ||
	fail "schema 2: import stores the same OCI manifest" "$(cat "$T/root-i/store/index.json" 2>&1)"
check "schema 2: skopeo reads the import back" skopeo inspect "oci:$T/root-i/store:docker.io/library/imported:1"
store_verify "schema 2: import store verifies" "$T/root-i"

for p in arm64 amd64; do
	r=$T/root-$p
	check "manifest list: pull --platform linux/$p" berth_pull "$r" "$REG_HOST/test/list:1" --platform linux/$p
	[ "$(cat "$(top_layer "$r" "$REG_HOST/test/list:1")/etc/berth-platform" 2> /dev/null)" = linux/$p ] &&
		ok "manifest list: linux/$p marker" || fail "manifest list: linux/$p marker"
	check "manifest list: skopeo reads the $p image back" skopeo inspect "oci:$r/store:$REG_HOST/test/list:1"
	store_verify "manifest list: $p store verifies" "$r"
done
store_verify "store verifies" "$root"

# With the registry gone, a pull by the registry digest still finds the image in the store.
_kill_pid "$REG_PID"
check "schema 2: pull by registry digest needs no registry once stored" berth_pull "$root" "$REG_HOST/test/v2@$regd"
[ "$(cat "$T/out")" = "$sd" ] && ok "schema 2: it prints the stored digest" || fail "schema 2: it prints the stored digest" "$(cat "$T/out")"
