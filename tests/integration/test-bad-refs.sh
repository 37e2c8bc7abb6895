#!/bin/bash
# References that are not valid image references are refused before any network access:
# exit 125 with a sentence, and nothing is stored. Also usage errors of the image verbs.
. "$(dirname "$0")/../lib.sh"
require_berth
root=$T/root
B=("$BERTH" --root "$root")
long_tag=$(printf 't%.0s' {1..129})
long_name=$(printf 'a%.0s' {1..300})
while IFS='|' read -r what ref; do
	expect_fail "pull '$what' fails" "${B[@]}" image pull "$ref"
done << EOF2
empty|
upper-case repository|Busybox:1
space|busy box:1
space in tag|busybox:bad tag
empty tag|busybox:
two tags|busybox:1:2
short digest|busybox@sha256:1234
unknown digest algorithm|busybox@md5:d41d8cd98f00b204e9800998ecf8427e
upper-case digest|busybox@sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
dot-dot path|../../etc/passwd
leading slash|/busybox:1
double slash|test//busybox:1
trailing slash|test/busybox/
tag of 129 characters|busybox:$long_tag
name of 300 characters|$long_name
control character|busy$(printf '\001')box
bad port|127.0.0.1:notaport/busybox:1
EOF2
expect_fail "pull without a reference fails" "${B[@]}" image pull
expect_fail "pull with two references fails" "${B[@]}" image pull busybox:1 busybox:2
expect_fail "pull with an unknown option fails" "${B[@]}" image pull --frobnicate busybox:1
expect_fail "inspect of a bad reference fails" "${B[@]}" image inspect 'Bad Ref'
expect_fail "tag to a bad reference fails" "${B[@]}" image tag busybox:1 'x:y:z'
expect_fail "rm of a bad reference fails" "${B[@]}" image rm 'a b'
expect_fail "import of a missing path fails" "${B[@]}" image import "$T/does-not-exist.tar"
expect_fail "unknown global option fails" "$BERTH" --root "$root" --frobnicate image ls
expect_fail "--root without a value fails" "$BERTH" --root

n=$(jq '.manifests | length' "$root/store/index.json" 2> /dev/null || echo 0)
[ "$n" = 0 ] && ok "nothing stored" || fail "nothing stored" "$(cat "$root/store/index.json")"
if [ -d "$root/store" ]; then store_verify "store verifies" "$root"; fi
