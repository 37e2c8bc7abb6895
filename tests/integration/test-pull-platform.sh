#!/bin/bash
# Pull of a multi-platform image index: --platform picks the matching manifest (each
# platform has its own /etc/berth-platform marker); without --platform the host's
# (linux/amd64 here) is used; a platform the index lacks fails with exit 125.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:multiarch" test/multi:1 --all || { fail "push multiarch"; exit 1; }
ref=$REG_HOST/test/multi:1

# marker_of ROOT: the platform marker the image tagged $ref in ROOT carries.
marker_of() { cat "$(top_layer "$1" "$ref")/etc/berth-platform" 2> /dev/null; }

for p in linux/arm64 linux/amd64; do
	root=$T/root-${p#linux/}
	check "pull --platform $p" berth_pull "$root" "$ref" --platform "$p"
	want=$(awk -v t="${p#linux/}" '$1 == t {print $2}' "$bb/digests")
	got=$(store_ref_digest "$root" "$ref")
	[ "$got" = "$want" ] && ok "$p: the $p manifest is stored" ||
		fail "$p: the $p manifest is stored" "want $want, got '$got'"
	[ "$(marker_of "$root")" = "$p" ] && ok "$p: marker file says $p" ||
		fail "$p: marker file says $p" "marker: '$(marker_of "$root")'"
	arch=$("$BERTH" --root "$root" image inspect "$ref" 2> /dev/null |
		jq -r 'if type == "array" then .[0] else . end | .architecture')
	[ "$arch" = "${p#linux/}" ] && ok "$p: inspect shows architecture ${p#linux/}" ||
		fail "$p: inspect shows architecture ${p#linux/}" "got '$arch'"
	store_verify "$p: store verifies" "$root"
done

check "pull --platform linux/arm64/v8" berth_pull "$T/root-v8" "$ref" --platform linux/arm64/v8
[ "$(marker_of "$T/root-v8")" = linux/arm64 ] && ok "linux/arm64/v8 selects the arm64 manifest" ||
	fail "linux/arm64/v8 selects the arm64 manifest" "marker: '$(marker_of "$T/root-v8")'"

if [ "$(uname -m)" = x86_64 ]; then
	check "pull without --platform" berth_pull "$T/root-host" "$ref"
	[ "$(marker_of "$T/root-host")" = linux/amd64 ] && ok "default platform is the host's (linux/amd64)" ||
		fail "default platform is the host's (linux/amd64)" "marker: '$(marker_of "$T/root-host")'"
fi

EXPECT_MATCH='platform|s390x' expect_fail "a platform the index lacks fails" \
	berth_pull "$T/root-none" "$ref" --platform linux/s390x
[ -z "$(store_ref_digest "$T/root-none" "$ref")" ] && ok "failed pull tags nothing" ||
	fail "failed pull tags nothing"
expect_fail "a malformed --platform fails" berth_pull "$T/root-none" "$ref" --platform 'linux//'
