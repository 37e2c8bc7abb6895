#!/bin/bash
# Pull over HTTPS from a registry whose certificate comes from a test CA: trusted through
# $SSL_CERT_FILE it works; without the CA it fails with exit 125 and a sentence (no silent
# fallback to plain HTTP); --tls-verify=false skips verification.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start tls || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:busybox" test/busybox:1 || { fail "push busybox"; exit 1; }
ref=$REG_HOST/test/busybox:1
want=$(awk '$1 == "busybox" {print $2}' "$bb/digests")

EXPECT_MATCH='certificate|CA|TLS|trust|verify' expect_fail "untrusted certificate fails" \
	env -u SSL_CERT_FILE "$BERTH" --root "$T/bad" image pull "$ref"
if [ -z "$(store_ref_digest "$T/bad" "$ref")" ]; then ok "failed pull tags nothing"; else
	fail "failed pull tags nothing"
fi

check "pull trusting the test CA via \$SSL_CERT_FILE" \
	env SSL_CERT_FILE="$REG_CA" "$BERTH" --root "$T/root" image pull "$ref"
[ "$(store_ref_digest "$T/root" "$ref")" = "$want" ] && ok "tagged with the pushed digest" ||
	fail "tagged with the pushed digest" "index.json: $(cat "$T/root/store/index.json" 2> /dev/null)"
check_unpacked "layers unpacked" "$T/root" "$ref"

check "pull with --tls-verify=false" \
	env -u SSL_CERT_FILE "$BERTH" --root "$T/root2" image pull --tls-verify=false "$ref"
check_unpacked "layers unpacked (--tls-verify=false)" "$T/root2" "$ref"

store_verify "store verifies" "$T/root"
store_verify "second store verifies" "$T/root2"
