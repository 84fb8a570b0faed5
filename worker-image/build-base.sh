#!/usr/bin/env bash
# Builds the worker's base image on a host that can reach Debian's package mirror but no
# container registry: a minimal Debian bookworm root made by mmdebstrap, imported as one layer.
# It holds the toolchains an agent reaches for: git, ripgrep, make, gcc/g++, python3 with pip
# and venv, curl, unzip, jq, CA certificates (Debian packages), and this host's own `node`
# with its npm and corepack copied in (`npm`, `npx`, `corepack` in /usr/local/bin).
# The mirror is DEBIAN_MIRROR, else the host's own (debian-mirror.sh reads its apt sources).
# The image's label `tether.recipe` is this file's sha256: build.ts rebuilds a base whose
# label differs.
# Usage: worker-image/build-base.sh [TAG]   (default tether-base:local)
set -euo pipefail
tag="${1:-tether-base:local}"
mirror="$("$(dirname "$0")/debian-mirror.sh")"
recipe="$(sha256sum "$0" | cut -d' ' -f1)"
packages=git,ca-certificates,ripgrep,procps,make,g++,python3,python3-pip,python3-venv,curl,unzip,jq

if ! command -v mmdebstrap >/dev/null; then
  echo "mmdebstrap is missing: apt-get install -y mmdebstrap" >&2
  exit 1
fi
if ! command -v node >/dev/null; then
  echo "node is missing: the base takes this host's node, npm and corepack" >&2
  exit 1
fi
node_bin="$(readlink -f "$(command -v node)")"
node_modules="$(dirname "$node_bin")/../lib/node_modules"
for module in npm corepack; do
  if [ ! -d "$node_modules/$module" ]; then
    echo "this host's node ($node_bin) has no $module at $node_modules/$module: install a Node with npm and corepack" >&2
    exit 1
  fi
done

echo "building $tag from Debian bookworm ($mirror) with $("$node_bin" --version) from $node_bin"
start=$(date +%s)
mmdebstrap --variant=minbase --include="$packages" \
  --customize-hook="copy-in $node_bin /usr/local/bin" \
  --customize-hook='chmod 0711 "$1"/usr/local/bin/node' \
  --customize-hook='mkdir -p "$1"/usr/local/lib/node_modules' \
  --customize-hook="copy-in $node_modules/npm $node_modules/corepack /usr/local/lib/node_modules" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1"/usr/local/bin/npm' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1"/usr/local/bin/npx' \
  --customize-hook='ln -s ../lib/node_modules/corepack/dist/corepack.js "$1"/usr/local/bin/corepack' \
  --customize-hook='chroot "$1" sh -c "node --version && npm --version && corepack --version && python3 -m pip --version && cc --version | head -n 1"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  bookworm - "$mirror" \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL tether.recipe=$recipe" \
      - "$tag" >/dev/null
echo "built $tag in $(( $(date +%s) - start ))s, $(docker image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
