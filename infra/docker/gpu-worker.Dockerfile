# syntax=docker/dockerfile:1.7
#
# GPU worker image. Build from the repository root (BuildKit reads gpu-worker.Dockerfile.dockerignore next to
# this file):
#   docker build -f infra/docker/gpu-worker.Dockerfile -t bd3-gpu-worker .
#   docker run --gpus all --env-file worker.env bd3-gpu-worker
# The entrypoint is `npm run worker`'s (tsx gpu-worker/src/runtime/main.ts). Execution providers in order
# (EXECUTION_PROVIDERS=cuda,webgpu,cpu, each fallback logged): CUDA; then WebGPU (onnxruntime's bundled Dawn
# over the NVIDIA Vulkan driver, the provider this project has measured on an H200). Where no GPU is visible
# the worker refuses to start (exit 2, naming EXECUTION_PROVIDERS) rather than serve on the CPU:
# ALLOW_CPU_FALLBACK=false below; run with `-e ALLOW_CPU_FALLBACK=true` to serve on the CPU anyway.

ARG NODE_VERSION=20.20.2
# onnxruntime-node 1.30.0's linux/x64 CUDA EP (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0) is built for
# CUDA 12.x with cuDNN 9; the cudnn-runtime flavour carries cuDNN 9 and the CUDA math libraries (cuBLAS, cuFFT).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
# Model package baked into the image (a folder of models/); mount another one and set MODEL_DIR to override.
ARG MODEL=kjv-bd3lm-b16

FROM node:${NODE_VERSION}-bookworm-slim AS node-base

# --- dependencies, with the CUDA EP -------------------------------------------------------------------------
FROM node-base AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY edge/package.json edge/
COPY gpu-worker/package.json gpu-worker/
# The repository's .npmrc says `onnxruntime-node-install=skip` (CI cannot reach NuGet); it is not copied, and
# this asks the postinstall for the CUDA 12 EP explicitly. Needs outbound HTTPS to api.nuget.org.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
# Only the worker's workspaces (no wrangler/workerd); the root's devDependencies bring tsx.
RUN npm ci --workspace gpu-worker --workspace shared --include-workspace-root --no-audit --no-fund \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
      node_modules/onnxruntime-node/bin/napi-v6/linux/arm64 \
      node_modules/@biomejs node_modules/typescript node_modules/vitest node_modules/@vitest node_modules/vite \
      node_modules/@rolldown node_modules/lightningcss* \
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
COPY package.json tsconfig.base.json ./
COPY shared/package.json shared/
COPY shared/src shared/src
COPY gpu-worker/package.json gpu-worker/
COPY gpu-worker/src gpu-worker/src
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
ENTRYPOINT ["node", "--import", "tsx", "gpu-worker/src/runtime/main.ts"]
