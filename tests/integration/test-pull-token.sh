#!/bin/bash
# Pull from a registry using the bearer token flow: berth gets a 401 with a Bearer
# challenge, asks the realm (a python token server checking basic credentials) for a
# token scoped to the repository and retries with it. Wrong credentials fail cleanly.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start token || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
ref=$REG_HOST/test/busybox:1

printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG_HOST" \
	"$(printf '%s:wrong' "$REG_USER" | base64 -w0)" > "$T/wrong.json"
EXPECT_MATCH='cred|auth|denied|password|login|token' expect_fail "wrong credentials fail" \
	env REGISTRY_AUTH_FILE="$T/wrong.json" "$BERTH" --root "$T/bad" image pull "$ref"
if [ -z "$(store_ref_digest "$T/bad" "$ref")" ]; then ok "failed pull tags nothing"; else
	fail "failed pull tags nothing"
fi

: > "$REG_DIR/token.log"
check "pull with a bearer token" \
	env REGISTRY_AUTH_FILE="$REG_AUTH_FILE" "$BERTH" --root "$T/root" image pull "$ref"
if grep -qi 'scope=repository%3Atest%2Fbusybox%3Apull' "$REG_DIR/token.log" ||
	grep -q 'scope=repository:test/busybox:pull' "$REG_DIR/token.log"; then
	ok "token requested for repository:test/busybox:pull"
else
	fail "token requested for repository:test/busybox:pull" "$(cat "$REG_DIR/token.log")"
fi
check_unpacked "layers unpacked" "$T/root" "$ref"
store_verify "store verifies" "$T/root"
