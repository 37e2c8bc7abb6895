#!/bin/bash
# Install berth's build and test dependencies from Debian's archive when missing.
# Runs apt-get only as root and only for packages that are not installed yet.
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libarchive-dev libcurl4-openssl-dev libjansson-dev libzstd-dev libssl-dev libisal-dev
	libseccomp-dev musl-tools)
TEST_PKGS=(python3 jq busybox-static docker-registry skopeo umoci mmdebstrap apache2-utils
	openssl curl zstd uidmap gzip tar passt openssh-client iproute2 acl)
BENCH_PKGS=(podman runc hyperfine lxc systemd-container util-linux)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "berth: missing Debian packages: ${missing[*]}; run 'sudo make deps' or install them with apt-get." >&2
	exit 125
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || true
# docker-registry's postinst tries to start a service; no init may be running here,
# so policy-rc.d keeps package scripts from starting daemons.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
