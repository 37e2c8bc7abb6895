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

for p in arm64 amd64; do
	r=$T/root-$p
	check "manifest list: pull --platform linux/$p" berth_pull "$r" "$REG_HOST/test/list:1" --platform linux/$p
	[ "$(cat "$(top_layer "$r" "$REG_HOST/test/list:1")/etc/berth-platform" 2> /dev/null)" = linux/$p ] &&
		ok "manifest list: linux/$p marker" || fail "manifest list: linux/$p marker"
	store_verify "manifest list: $p store verifies" "$r"
done
store_verify "store verifies" "$root"
