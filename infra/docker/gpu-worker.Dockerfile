# syntax=docker/dockerfile:1.7
#
# GPU worker image. Build from the repository root (BuildKit reads gpu-worker.Dockerfile.dockerignore next to
# this file):
#   docker build -f infra/docker/gpu-worker.Dockerfile -t bd3-gpu-worker .
#   docker run --gpus all --env-file worker.env bd3-gpu-worker
# Multi-stage: `build` bundles the worker to JavaScript (`npm run build:worker`: esbuild, see
# gpu-worker/scripts/build.ts), `deps` installs the production dependencies with onnxruntime's CUDA 12 EP, and
# the runtime stage copies only gpu-worker/dist + those node_modules + the model onto the CUDA runtime base.
# It runs `node gpu-worker/dist/main.js`: no TypeScript compiler, tsx or devDependency in the image.
# Execution providers in order (EXECUTION_PROVIDERS=cuda,webgpu,cpu, each fallback logged): CUDA; then WebGPU
# (onnxruntime's bundled Dawn over the NVIDIA Vulkan driver, the provider this project has measured on an
# H200). Where no GPU is visible the worker refuses to start (exit 2, naming EXECUTION_PROVIDERS) rather than
# serve on the CPU: ALLOW_CPU_FALLBACK=false below; run with `-e ALLOW_CPU_FALLBACK=true` to serve on the CPU.
# Size budget: infra/README.md ("Image").

# Base images, pinned to exact version tags (this repository was prepared without network access to a
# registry, so no digest could be resolved). For a release, resolve each once and pin the digest too:
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim   (and the CUDA image)
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> \
#                --build-arg CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04@sha256:<digest> ...
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# onnxruntime-node 1.30.0's linux/x64 CUDA EP (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0) is built for
# CUDA 12.x with cuDNN 9; the cudnn-runtime flavour carries cuDNN 9 and the CUDA math libraries (cuBLAS, cuFFT).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
# Model package baked into the image (a folder of models/); mount another one and set MODEL_DIR to override.
ARG MODEL=kjv-bd3lm-b16

FROM ${NODE_IMAGE} AS node-base

# --- build: the worker bundled to JavaScript ----------------------------------------------------------------
FROM node-base AS build
WORKDIR /app
# Only the worker's workspaces: npm ci accepts a lock file whose other workspaces (edge, sdk) are absent here.
COPY package.json package-lock.json tsconfig.base.json ./
COPY shared/package.json shared/
COPY gpu-worker/package.json gpu-worker/
# The root's devDependencies bring tsx and esbuild; nothing from this stage but dist/ reaches the image, so
# no install scripts are needed (onnxruntime's EP download happens in `deps`).
RUN npm ci --workspace gpu-worker --workspace shared --include-workspace-root --ignore-scripts --no-audit --no-fund
COPY shared/src shared/src
COPY gpu-worker/src gpu-worker/src
COPY gpu-worker/scripts/build.ts gpu-worker/scripts/
RUN npm run build:worker

# --- production dependencies, with the CUDA EP --------------------------------------------------------------
FROM node-base AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY gpu-worker/package.json gpu-worker/
# The repository's .npmrc says `onnxruntime-node-install=skip` (CI cannot reach NuGet); it is not copied, and
# this asks the postinstall for the CUDA 12 EP explicitly. Needs outbound HTTPS to api.nuget.org.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
# --omit=dev: no tsx, TypeScript, vitest, wrangler. The workspace links (@bd3-serve/*) go: shared is bundled
# into main.js. Other platforms' onnxruntime binaries go too. The checks fail the build if tsx slipped in.
RUN npm ci --omit=dev --workspace gpu-worker --workspace shared --include-workspace-root --no-audit --no-fund \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && rm -rf node_modules/@bd3-serve node_modules/.bin \
      node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
      node_modules/onnxruntime-node/bin/napi-v6/linux/arm64 \
 && ! test -e node_modules/tsx && ! test -e node_modules/typescript && ! test -e node_modules/esbuild \
 && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
ARG MODEL
COPY --from=node-base /usr/local/bin/node /usr/local/bin/node
# The WebGPU provider needs the Vulkan loader, and the NVIDIA Vulkan driver that the container toolkit mounts
# (with the "graphics" capability below) needs glvnd's dispatch libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 libglvnd0 libegl1 \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid so volume permissions and pod security policies can name it.
RUN groupadd --gid 10001 worker && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin worker
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# main.js, the sampler thread (sampler-thread-entry.mjs), the SIMD kernel, source maps, {"type":"module"}.
COPY --from=build /app/gpu-worker/dist ./gpu-worker/dist
COPY models/${MODEL}/ models/${MODEL}/
ENV NODE_ENV=production \
    MODEL_DIR=/app/models/${MODEL} \
    EXECUTION_PROVIDERS=cuda,webgpu,cpu \
    ALLOW_CPU_FALLBACK=false \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    METRICS_PORT=9464 \
    METRICS_HOST=0.0.0.0
USER 10001:10001
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps", "gpu-worker/dist/main.js"]
