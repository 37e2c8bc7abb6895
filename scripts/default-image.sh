#!/bin/bash
# Build berth's default image, Debian bookworm with systemd, from the Debian archive with
# mmdebstrap, and import it into the store as localhost/berth/debian:bookworm.
# Usage: scripts/default-image.sh [BERTH] (BERTH defaults to build/berth; global options
# such as --root come from $BERTH_ROOT).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
berth=${1:-$top/build/berth}
ref=localhost/berth/debian:bookworm

if "$berth" image inspect "$ref" > /dev/null 2>&1; then
	echo "The default image $ref is already in the store."
	exit 0
fi

mirror=$("$top/scripts/debian-mirror.sh")

work=$(mktemp -d "${TMPDIR:-/var/tmp}/berth-default-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "Building Debian bookworm with systemd from $mirror (takes a few minutes)..."
mmdebstrap --quiet --variant=apt --include=systemd,systemd-sysv,dbus,iproute2,sudo,ca-certificates \
	bookworm "$work/rootfs.tar" "$mirror"
zstd -q -T0 -3 "$work/rootfs.tar" -o "$work/rootfs.tar.zst"
"$berth" image import "$work/rootfs.tar.zst" --tag "$ref"
