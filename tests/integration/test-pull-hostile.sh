#!/bin/bash
# Hostile layers pulled from a registry (tests/fixtures/hostile.sh: "../" paths, absolute
# paths, writes through symlinks to / and /tmp, hard links to /etc/shadow and /etc/passwd)
# never write outside the layer: nothing appears in / or /tmp, no unpacked file shares an
# inode with a host file. berth either refuses the image (exit 125 with a sentence, nothing
# tagged) or unpacks it confined; it never crashes.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/fixtures/registry.sh"
require_berth
hd=$("$top/tests/fixtures/hostile.sh") || { fail "build the hostile fixture"; exit 1; }
registry_start plain || { fail "registry starts"; exit 1; }
escapes() { ls -d /berth-escaped-* /tmp/berth-escaped-* 2> /dev/null; }
# Markers left by an earlier, broken run would hide nothing new: remove them first.
for f in $(escapes); do rm -rf -- "$f"; done

for t in dotdot absolute symlink abslink hardlink abshard dirlink; do
	registry_push_raw "$hd/oci" "$t" "test/$t:1" || { fail "$t: push"; continue; }
	root=$T/root-$t
	run "$BERTH" --root "$root" image pull "$REG_HOST/test/$t:1"
	case $status in
	0)
		echo "# $t: unpacked"
		[ -n "$(find "$root/layers" -name 'berth-escaped-*' -o -name shadow -o -name passwd 2> /dev/null)" ] &&
			ok "$t: accepted entry lands inside the layer" ||
			fail "$t: accepted entry lands inside the layer" "$(find "$root/layers" -maxdepth 4 | head -30)"
		;;
	125)
		echo "# $t: refused: $(head -c 300 "$T/err")"
		[ "$(wc -w < "$T/err")" -ge 4 ] && ok "$t: refusal is a sentence" || fail "$t: refusal is a sentence" "$(cat "$T/err")"
		[ -z "$(store_ref_digest "$root" "$REG_HOST/test/$t:1")" ] && ok "$t: refused image is not tagged" ||
			fail "$t: refused image is not tagged"
		;;
	*) fail "$t: pull exits 0 or 125" "$(_show_run pull "$t")" ;;
	esac
	e=$(escapes)
	if [ -z "$e" ]; then ok "$t: nothing written outside the layer"; else
		fail "$t: nothing written outside the layer" "$e"
		for f in $e; do rm -rf -- "$f"; done
	fi
	same=$(find "$root" \( -samefile /etc/shadow -o -samefile /etc/passwd \) 2> /dev/null)
	[ -z "$same" ] && ok "$t: no hard link to a host file" || fail "$t: no hard link to a host file" "$same"
	store_verify "$t: store verifies" "$root"
done
