#!/bin/bash
# Pull from a registry with htpasswd basic auth: credentials come from $REGISTRY_AUTH_FILE;
# wrong or missing credentials fail with exit 125 and a sentence, storing nothing.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start htpasswd || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
ref=$REG_HOST/test/busybox:1

printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG_HOST" \
	"$(printf '%s:wrong' "$REG_USER" | base64 -w0)" > "$T/wrong.json"
EXPECT_MATCH='cred|auth|denied|password|login' expect_fail "wrong credentials fail" \
	env REGISTRY_AUTH_FILE="$T/wrong.json" "$BERTH" --root "$T/bad" image pull "$ref"
echo '{"auths":{}}' > "$T/none.json"
EXPECT_MATCH='cred|auth|denied|password|login' expect_fail "missing credentials fail" \
	env REGISTRY_AUTH_FILE="$T/none.json" HOME="$T" "$BERTH" --root "$T/bad" image pull "$ref"
if [ -z "$(store_ref_digest "$T/bad" "$ref")" ]; then ok "failed pulls tag nothing"; else
	fail "failed pulls tag nothing" "$(cat "$T/bad/store/index.json")"
fi

check "pull with credentials from \$REGISTRY_AUTH_FILE" \
	env REGISTRY_AUTH_FILE="$REG_AUTH_FILE" "$BERTH" --root "$T/root" image pull "$ref"
check_unpacked "layers unpacked" "$T/root" "$ref"

# ~/.docker/config.json is the fallback.
mkdir -p "$T/home/.docker"
cp "$REG_AUTH_FILE" "$T/home/.docker/config.json"
check "pull with credentials from ~/.docker/config.json" \
	env -u REGISTRY_AUTH_FILE HOME="$T/home" "$BERTH" --root "$T/root2" image pull "$ref"

store_verify "store verifies" "$T/root"
store_verify "second store verifies" "$T/root2"
[ -d "$T/bad/store" ] && store_verify "failed pulls' store verifies" "$T/bad"
