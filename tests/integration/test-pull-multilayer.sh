#!/bin/bash
# A four-layer image with a whiteout (/data/gone), an opaque directory (/opq), a whole
# directory whiteout (/wdir), a hard link and a symlink: each layer is unpacked in its own
# directory in overlayfs form (whiteouts as 0:0 character devices, opaque directories
# marked with the overlay.opaque xattr, no .wh. files left), and the layers stacked with
# overlayfs show the image's final file system.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
bb=$(busybox_fixture)
registry_start plain || { fail "registry starts"; exit 1; }
registry_push "oci:$bb/oci:multi" test/multi:1 || { fail "push multi"; exit 1; }
ref=$REG_HOST/test/multi:1
root=$T/root

check "pull a four-layer image" berth_pull "$root" "$ref"
check_unpacked "all four layers unpacked" "$root" "$ref"
m=$(store_ref_digest "$root" "$ref")
mapfile -t dirs < <(layer_dirs "$root" "$m")
if [ ${#dirs[@]} != 4 ]; then
	fail "image has four layers" "got ${#dirs[@]}"
	exit 1
fi
l3=${dirs[2]}
l4=${dirs[3]}

wh=$(find "$root/layers" -name '.wh.*' 2> /dev/null)
[ -z "$wh" ] && ok "no .wh. files left in unpacked layers" || fail "no .wh. files left in unpacked layers" "$wh"

is_whiteout() { [ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = 0:0 ]; }
is_whiteout "$l3/data/gone" && ok "file whiteout is a 0:0 character device" ||
	fail "file whiteout is a 0:0 character device" "$(ls -la "$l3/data" 2>&1)"
is_whiteout "$l4/wdir" && ok "directory whiteout is a 0:0 character device" ||
	fail "directory whiteout is a 0:0 character device" "$(ls -la "$l4" 2>&1)"

opaque=$($PY -c 'import os, sys
for n in (b"trusted.overlay.opaque", b"user.overlay.opaque"):
    try:
        if os.getxattr(sys.argv[1], n) == b"y":
            print(n.decode().split(".")[0]); break
    except OSError:
        pass' "$l3/opq")
[ -n "$opaque" ] && ok "opaque directory has overlay.opaque=y ($opaque)" ||
	fail "opaque directory has overlay.opaque=y"
[ -f "$l3/opq/new" ] && [ ! -e "$l3/opq/.wh..wh..opq" ] && ok "opaque directory keeps its own files" ||
	fail "opaque directory keeps its own files" "$(ls -la "$l3/opq" 2>&1)"

[ "$(stat -c %i "$l4/links/target")" = "$(stat -c %i "$l4/links/hardlink" 2> /dev/null)" ] &&
	ok "hard link unpacked as a hard link" || fail "hard link unpacked as a hard link"
[ "$(readlink "$l4/links/symlink")" = target ] && ok "symlink unpacked" || fail "symlink unpacked"

# Stack the layers with overlayfs in a private mount namespace (gone when it exits).
lower=$(printf '%s\n' "${dirs[@]}" | tac | paste -sd:)
opts=lowerdir=$lower
[ "$opaque" = user ] && opts+=,userxattr
mkdir -p "$T/merged"
unshare -m sh -c 'mount -t overlay berth-test -o "$1" "$2" && cd "$2" &&
	echo "data: $(ls data | tr "\n" " ")" && echo "opq: $(find opq | sort | tr "\n" " ")" &&
	echo "wdir: $(ls -d wdir 2>&1 >/dev/null | wc -l)" &&
	echo "etc: $(cat etc/layer2 etc/layer3 etc/layer4 | tr "\n" " ")" &&
	echo "busybox: $(./bin/busybox true && echo runs)"' sh "$opts" "$T/merged" > "$T/merged.txt" 2>&1
want='data: keep 
opq: opq opq/new 
wdir: 1
etc: layer2 layer3 layer4 
busybox: runs'
if [ "$(cat "$T/merged.txt")" = "$want" ]; then ok "overlay of the layers shows the final image"; else
	fail "overlay of the layers shows the final image" "got:" "$(cat "$T/merged.txt")" "want:" "$want"
fi
store_verify "store verifies" "$root"
