#!/usr/bin/env bash
# Builds the worker's base image on a host that can reach Debian's package mirror but no
# container registry: a minimal Debian bookworm root (git, ripgrep, ca-certificates) made by
# mmdebstrap, with this host's own `node` binary copied in, imported as one layer.
# The mirror is DEBIAN_MIRROR, else the host's own (debian-mirror.sh reads its apt sources).
# Usage: worker-image/build-base.sh [TAG]   (default tether-base:local)
set -euo pipefail
tag="${1:-tether-base:local}"
mirror="$("$(dirname "$0")/debian-mirror.sh")"
node_bin="$(command -v node)"

if ! command -v mmdebstrap >/dev/null; then
  echo "mmdebstrap is missing: apt-get install -y mmdebstrap" >&2
  exit 1
fi

echo "building $tag from Debian bookworm ($mirror) with $("$node_bin" --version) from $node_bin"
start=$(date +%s)
mmdebstrap --variant=minbase --include=git,ca-certificates,ripgrep,procps \
  --customize-hook="copy-in $node_bin /usr/local/bin" \
  --customize-hook='chroot "$1" /usr/local/bin/node --version' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  bookworm - "$mirror" \
  | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$tag" >/dev/null
echo "built $tag in $(( $(date +%s) - start ))s, $(docker image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
