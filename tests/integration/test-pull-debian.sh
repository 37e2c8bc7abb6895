#!/bin/bash
# The Debian bookworm + systemd image (built by mmdebstrap, cached; also the bench input):
# pushed to a plain registry and pulled once; its files and metadata come through.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
if ! deb=$(debian_fixture 2> "$T/fixture.log"); then
	fail "build the Debian fixture" "$(tail -20 "$T/fixture.log")"
	exit 1
fi
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$deb:bookworm" test/debian:bookworm || { fail "push debian"; exit 1; }
ref=$REG_HOST/test/debian:bookworm
root=$T/root
start=$SECONDS
check "pull debian:bookworm" berth_pull "$root" "$ref"
echo "# pull took $((SECONDS - start))s"
check_unpacked "layers unpacked" "$root" "$ref"
d=$(top_layer "$root" "$ref")
for f in usr/lib/systemd/systemd usr/bin/sudo usr/bin/dbus-daemon usr/bin/ip etc/debian_version; do
	[ -e "$d/$f" ] && ok "image has /$f" || fail "image has /$f"
done
[ "$(readlink "$d/sbin/init")" = /lib/systemd/systemd ] || [ "$(readlink "$d/sbin/init")" = ../lib/systemd/systemd ] &&
	ok "/sbin/init links to systemd" || fail "/sbin/init links to systemd" "$(readlink "$d/sbin/init")"
if [ "$(stat -c %a "$d/usr/bin/sudo")" = 4755 ]; then ok "sudo keeps its setuid bit"; else
	fail "sudo keeps its setuid bit" "$(stat -c '%a %U' "$d/usr/bin/sudo")"
fi
dm=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "bookworm") | .digest' "$deb/index.json")
# Device nodes (dev/null, ...) are left to the runtime, which makes /dev; count the rest.
n_files=$(tar -tvzf "$deb/blobs/sha256/$(jq -r '.layers[0].digest' "$deb/blobs/sha256/${dm#sha256:}" | cut -d: -f2)" |
	grep -v '^[cb]' | awk '$NF != "./"' | wc -l)
n_unpacked=$(cd "$d" && find . -mindepth 1 | wc -l)
[ "$n_unpacked" = "$n_files" ] && ok "every tar entry but device nodes unpacked ($n_files)" ||
	fail "every tar entry but device nodes unpacked" "layer tar has $n_files entries, diff/ has $n_unpacked"
check "inspect" "$BERTH" --root "$root" image inspect "$ref"
store_verify "store verifies" "$root"
