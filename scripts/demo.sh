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
"$berth" image inspect localhost/berth/debian:bookworm | head -40
