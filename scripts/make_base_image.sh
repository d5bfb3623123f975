#!/usr/bin/env bash
# Make a local Python 3.11 base image without any container registry: debootstrap a minimal
# Debian bookworm (its python3 is 3.11) and import it into podman (or docker).
# Needs root and `apt-get install -y debootstrap podman` (docs/image.md).
#
# usage: scripts/make_base_image.sh [TAG]   (default TAG: localhost/debian-py:bookworm)
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), ENGINE (podman|docker).
set -euo pipefail

tag="${1:-localhost/debian-py:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
engine="${ENGINE:-podman}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rootfs="$repo/build/rootfs-bookworm"

if [[ "$(id -u)" != "0" ]]; then
  echo "make_base_image: debootstrap needs root" >&2
  exit 2
fi

rm -rf "$rootfs"
mkdir -p "$(dirname "$rootfs")"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror"
# apt's package lists and caches are build-time state (~95 MB): keep them out of the base.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
tar -C "$rootfs" -c . | "$engine" import - "$tag"
rm -rf "$rootfs"
echo "base image $tag: $("$engine" image inspect --format '{{.Size}}' "$tag") bytes"
