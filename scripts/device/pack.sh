#!/usr/bin/env bash
# Fills .devcarry/ (ignored) with what the engine benchmark needs on a remote GPU machine that has no node,
# no node_modules and no network: scripts/device/bench-gpu.sh unpacks it there. Run here, from anywhere:
#   bash scripts/device/pack.sh
# .devcarry/
#   node.xz           this host's node, stripped, xz -9e
#   ort.tar.xz        node_modules/onnxruntime-node (package.json, dist/*.js, bin/napi-v6/linux/x64/*: CPU and
#                     WebGPU EPs) + node_modules/onnxruntime-common (package.json, dist/cjs)
#   bench.mjs.xz      gpu-worker/bench/device.ts bundled by esbuild (one ESM file, onnxruntime-node external);
#                     compressed so that no linter or type checker ever reads it
#   bench-assets.tar.xz  what the bundle loads beside itself: softmax-kernel.wasm (the sampler's SIMD kernel),
#                     sampler-thread.mjs (the sampler thread, bundled) and a sampler-thread-entry.mjs that starts it
#                     (the pool's entry in the source tree registers tsx, which the device does not have)
#   debs/             the Vulkan loader (libvulkan1, amd64) for `dpkg -x` there (/work/.library/device/README.md)
#   released/         the released-shape random package (12 x 768, vocab 50258, context 1024, block 16) without
#                     its weights: graph protos + manifest + weights.json (scripts/device/strip_weights.py);
#                     scripts/device/fill_weights.py writes the weights there
# Slow parts (node ~80 s, ORT ~45 s of xz) are redone only when their input changes. Prints the size of what
# a device run carries (the working tree that travels + .devcarry) and fails above LIMIT_MIB (default 62).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
carry=.devcarry
limit_mib="${LIMIT_MIB:-62}"
python_onnx="${BD3_PACK_PYTHON:-/usr/bin/python3}"
ort_dir=node_modules/onnxruntime-node
common_dir=node_modules/onnxruntime-common
released_src=models/.cache/random-owt-b16

say() { printf '[pack] %s\n' "$*" >&2; }

mkdir -p "$carry/debs"
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.devcarry/' "$exclude" 2>/dev/null || echo '/.devcarry/' >>"$exclude"

stamp_ok() { # stamp_ok FILE CONTENT: FILE.stamp holds CONTENT and FILE exists
  [ -s "$1" ] && [ -f "$1.stamp" ] && [ "$(cat "$1.stamp")" = "$2" ]
}

# 1. node
node_bin="$(command -v node)"
node_key="$(node --version) $(sha256sum "$node_bin" | cut -c1-16)"
if ! stamp_ok "$carry/node.xz" "$node_key"; then
  say "node $(node --version): strip + xz -9e (about 80 s)"
  tmp="$(mktemp -d)"
  strip --strip-all -o "$tmp/node" "$node_bin"
  "$tmp/node" --version >/dev/null
  xz -9e -T2 -c "$tmp/node" >"$carry/node.xz.tmp"
  mv "$carry/node.xz.tmp" "$carry/node.xz"
  echo "$node_key" >"$carry/node.xz.stamp"
  rm -rf "$tmp"
fi

# 2. onnxruntime-node + onnxruntime-common (runtime files only)
ort_key="$(node -p "require('./$ort_dir/package.json').version + ' ' + require('./$common_dir/package.json').version") $(sha256sum "$ort_dir/bin/napi-v6/linux/x64/libonnxruntime.so.1" | cut -c1-16)"
if ! stamp_ok "$carry/ort.tar.xz" "$ort_key"; then
  say "onnxruntime-node $ort_key: tar + xz -9e (about 45 s)"
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/node_modules/onnxruntime-node/dist" "$tmp/node_modules/onnxruntime-node/bin/napi-v6/linux/x64" \
    "$tmp/node_modules/onnxruntime-common/dist"
  cp "$ort_dir/package.json" "$tmp/node_modules/onnxruntime-node/"
  cp "$ort_dir"/dist/*.js "$tmp/node_modules/onnxruntime-node/dist/"
  cp "$ort_dir"/bin/napi-v6/linux/x64/* "$tmp/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
  cp "$common_dir/package.json" "$tmp/node_modules/onnxruntime-common/"
  cp -r "$common_dir/dist/cjs" "$tmp/node_modules/onnxruntime-common/dist/"
  find "$tmp/node_modules/onnxruntime-common" \( -name '*.map' -o -name '*.d.ts' \) -delete
  tar -C "$tmp" -cf - node_modules | xz -9e -T2 >"$carry/ort.tar.xz.tmp"
  mv "$carry/ort.tar.xz.tmp" "$carry/ort.tar.xz"
  echo "$ort_key" >"$carry/ort.tar.xz.stamp"
  rm -rf "$tmp"
fi

# 3. the benchmark bundle (always rebuilt: fast)
say "esbuild gpu-worker/bench/device.ts"
tmp="$(mktemp -d)"
npx --no-install esbuild gpu-worker/bench/device.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --minify-whitespace --minify-syntax --log-level=warning \
  --banner:js='import { createRequire as __bd3CreateRequire } from "node:module"; const require = __bd3CreateRequire(import.meta.url);' \
  --outfile="$tmp/bench.mjs"
xz -9 -c "$tmp/bench.mjs" >"$carry/bench.mjs.xz"
say "bundle: $(stat -c %s "$tmp/bench.mjs") bytes, $(stat -c %s "$carry/bench.mjs.xz") compressed"
mkdir "$tmp/assets"
npx --no-install esbuild gpu-worker/src/engine/sampler/parallel/sampler-thread.ts --bundle --platform=node \
  --format=esm --target=node20 --minify-whitespace --minify-syntax --log-level=warning \
  --outfile="$tmp/assets/sampler-thread.mjs"
echo 'await import("./sampler-thread.mjs");' >"$tmp/assets/sampler-thread-entry.mjs"
cp gpu-worker/src/engine/sampler/kernel/softmax-kernel.wasm "$tmp/assets/"
tar -C "$tmp/assets" -cf - . | xz -9 >"$carry/bench-assets.tar.xz"
say "assets: $(ls "$tmp/assets" | tr '\n' ' ')($(stat -c %s "$carry/bench-assets.tar.xz") bytes compressed)"
rm -rf "$tmp"

# 4. the Vulkan loader and the GL vendor-neutral dispatch libraries (amd64 .deb, whatever this host's processor).
# The loader alone is not enough on the H200 machines: the NVIDIA ICD (libGLX_nvidia.so.0) then answers
# "Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'" and Dawn finds no adapter (seen
# 2026-11-28); with the glvnd set of /work/.library/device/README.md the WebGPU EP came up.
GL_DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
if ! ls "$carry"/debs/libglvnd0_*.deb >/dev/null 2>&1; then
  say "apt-get download ${GL_DEBS[*]} (amd64)"
  mkdir -p /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update >/dev/null
  (cd "$carry/debs" && apt-get "${o[@]}" download "${GL_DEBS[@]}")
fi

# 5. the released-shape package without weights
if [ ! -s "$released_src/manifest.json" ]; then
  say "$released_src missing: bash model/scripts/python.sh -m bd3lm_toolkit.random_package (minutes)"
  bash model/scripts/python.sh -m bd3lm_toolkit.random_package
fi
released_key="$(sha256sum "$released_src/manifest.json" scripts/device/strip_weights.py | sha256sum | cut -c1-16)"
if ! stamp_ok "$carry/released/weights.json" "$released_key"; then
  say "strip_weights.py $released_src -> $carry/released"
  rm -rf "$carry/released"
  "$python_onnx" scripts/device/strip_weights.py --src "$released_src" --out "$carry/released"
  echo "$released_key" >"$carry/released/weights.json.stamp"
fi

# 6. what a device run carries: the working tree that travels (tracked + untracked-not-ignored) + .devcarry
tree_bytes="$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')"
carry_bytes="$(find "$carry" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
total=$((tree_bytes + carry_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
say "working tree $(mib "$tree_bytes") + .devcarry $(mib "$carry_bytes") = $(mib "$total") (limit ${limit_mib} MiB here, 64 MiB for the device tool)"
find "$carry" -type f -printf '  %9s  %p\n' | sort -k2 >&2
if [ "$total" -gt $((limit_mib * 1048576)) ]; then
  say "FAIL: over ${limit_mib} MiB"
  exit 1
fi
