#!/bin/bash
# `make demo`: the main job on a fresh Debian 12 machine. Dependencies are installed and
# berth is built by the Makefile before this runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
berth=$top/build/berth
if [ "$(id -u)" -ne 0 ]; then
	echo "make demo builds the default image with mmdebstrap; run it as root (sudo make demo)." >&2
	exit 125
fi
set -x
"$berth" --version
"$top/scripts/default-image.sh" "$berth"
"$berth" image ls
"$berth" image inspect localhost/berth/debian:bookworm | jq '.[0] | {names, digest, os, architecture, layerCount, size, unpackedSize}'

# The default machine: made once, started if it is not running.
machine=${BERTH_DEMO_MACHINE:-debian}
if ! "$berth" inspect "$machine" > /dev/null 2>&1; then
	"$berth" create "$machine" localhost/berth/debian:bookworm
fi
[ "$("$berth" inspect "$machine" | jq -r .status)" = running ] || "$berth" start "$machine"
"$berth" ls
"$berth" inspect "$machine" | jq .host_access
"$berth" exec "$machine" -- sh -c 'cat /etc/os-release | head -1; uname -r; systemctl is-system-running; getent hosts deb.debian.org || true'
stamp="written before the stop at $(date -u +%FT%TZ)"
"$berth" exec "$machine" -- sh -c "echo '$stamp' > /root/demo-note"
"$berth" stop "$machine"
"$berth" start "$machine"
"$berth" exec "$machine" -- cat /root/demo-note
"$berth" stats "$machine"
set +x
echo
echo "The machine '$machine' keeps running. Try: $berth shell $machine   (stop it with '$berth stop $machine')"
