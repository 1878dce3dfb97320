#!/usr/bin/env bash
# Installs a software Vulkan driver that onnxruntime's WebGPU execution provider (Dawn) runs on, so the WebGPU
# path of the engine (device past, helper graphs, op placement) is tested on a machine without a GPU:
# Mesa's lavapipe from Debian bookworm-backports (25.x). Bookworm's own Mesa (22.3) is too old: Dawn refuses its
# adapter ("Vulkan shaderUniform*ArrayDynamicIndexing required"). Idempotent; run as root (CI does).
#   bash scripts/webgpu/install-lavapipe.sh
set -euo pipefail

# Lowest Mesa major whose lavapipe Dawn accepts (25.0.7 tested).
readonly MIN_MESA_MAJOR=25
readonly BACKPORTS_LIST=/etc/apt/sources.list.d/bookworm-backports.sources

installed_major() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | cut -d. -f1 || true
}

major=$(installed_major)
if [ -n "$major" ] && [ "$major" -ge "$MIN_MESA_MAJOR" ] && dpkg-query -W libvulkan1 >/dev/null 2>&1; then
  echo "lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
  exit 0
fi
if [ ! -f "$BACKPORTS_LIST" ]; then
  cat >"$BACKPORTS_LIST" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
major=$(installed_major)
if [ -z "$major" ] || [ "$major" -lt "$MIN_MESA_MAJOR" ]; then
  echo "lavapipe: mesa-vulkan-drivers ${major:-none} installed, need >= $MIN_MESA_MAJOR (bookworm-backports)" >&2
  exit 1
fi
echo "lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) installed"
