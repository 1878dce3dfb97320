#!/usr/bin/env bash
# Engine benchmark on a remote GPU machine without node, node_modules or network, from what
# scripts/device/pack.sh put in .devcarry/ (carried):
#   bash scripts/device/bench-gpu.sh OUTDIR BUDGET_SECONDS        (from the repository root, as root)
# Unpacks node + onnxruntime-node into $BD3_DEVICE_RT (default /tmp/bd3dev), installs the Vulkan loader when
# `ldconfig -p` has none (dpkg -x into /, as /work/.library/device/README.md says), writes the released-shape
# package's random weights (fill_weights.py, in the background), probes the WebGPU EP (Dawn over Vulkan), then
# runs each step under `timeout`, most important first:
#   a/b  WebGPU: demo fp32 (batch 1-64, first hitting + ddpm L'/4) -> released fp16 (batch 1 and 8 first
#        hitting, per-block time at the start and with a full window) -> released fp16 first hitting / ddpm /
#        confidence at batch 1, 4, 8 (the fewer-forward goals) -> released fp16 with the past uploaded every
#        forward (--device-past off: what keeping it on the GPU gains) and with whole uploads only (--device-past
#        full: what growing and patching it by the committed slots gains) -> released fp32 -> demo fp16
#   d    WebGPU: bare session.run (released fp32, then fp16; batch 1/8, past 0/1008; outputs on the GPU; profile)
#   c    CPU EP, $(nproc) threads: demo fp32, released fp32, bare session.run
# A failed step never stops the script; a WebGPU probe that fails is reported (its exact error in the summary)
# and the CPU steps still run. Each step's timeout is a share of BUDGET_SECONDS, cut to what is left, and the
# benchmark inside gets a little less so it can write its JSON and exit; the whole script ends by the budget.
# OUTDIR receives two files, refreshed after every step: engine-summary.txt (one line per measurement) and
# engine-bench.tar.gz (every step's JSON and log, the probe's verbose ORT log, fill log, GPU monitor csv).
# Simulation/testing knobs: BD3_DEVICE_RT, BD3_PYTHON (python with onnx + numpy), BD3_VULKAN_ROOT (where the
# loader .deb is unpacked; not / on a host that must not be touched), BD3_GPU_EP (default webgpu).
set -u
if [ $# -lt 2 ]; then
  echo "usage: bash scripts/device/bench-gpu.sh OUTDIR BUDGET_SECONDS" >&2
  exit 2
fi
OUTDIR=$1
BUDGET=$2
T0=$(date +%s)
DEADLINE=$((T0 + BUDGET - 10))
RT=${BD3_DEVICE_RT:-/tmp/bd3dev}
PY=${BD3_PYTHON:-python3}
VK_ROOT=${BD3_VULKAN_ROOT:-/}
GPU_EP=${BD3_GPU_EP:-webgpu}
CARRY=.devcarry
W=$RT/engine-bench
APP=$RT/app
NODE=$RT/bin/node
DEMO=models/kjv-bd3lm-b16
RELEASED=$RT/released
THREADS=${BD3_CPU_THREADS:-$(nproc 2>/dev/null || echo 16)}  # BD3_CPU_THREADS: fewer when training shares the CPU

mkdir -p "$OUTDIR" "$W" "$APP" "$RT/bin"
OUTDIR=$(cd "$OUTDIR" && pwd)
: >"$W/summary.txt"

log() {
  local line
  line="[bench-gpu +$(($(date +%s) - T0))s] $*"
  echo "$line" >&2
  echo "$line" >>"$W/bench-gpu.log"
}
note() { # a line for the summary (and the log)
  log "$*"
  echo "$*" >>"$W/summary.txt"
}
publish() {
  cp "$W/summary.txt" "$OUTDIR/engine-summary.txt.tmp" && mv "$OUTDIR/engine-summary.txt.tmp" "$OUTDIR/engine-summary.txt"
  tar -C "$RT" -czf "$OUTDIR/engine-bench.tar.gz.tmp" "$(basename "$W")" 2>/dev/null &&
    mv "$OUTDIR/engine-bench.tar.gz.tmp" "$OUTDIR/engine-bench.tar.gz"
}
MON_PID=""
FILL_PID=""
finish() {
  [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
  [ -n "$FILL_PID" ] && kill "$FILL_PID" 2>/dev/null
  note "total $(($(date +%s) - T0)) s of a ${BUDGET} s budget"
  publish
}
trap finish EXIT

if [ ! -f "$CARRY/node.xz" ] || [ ! -f "$CARRY/ort.tar.xz" ] || [ ! -f "$CARRY/bench.mjs.xz" ] ||
  [ ! -f "$CARRY/bench-assets.tar.xz" ]; then
  note "ERROR: $CARRY/{node.xz,ort.tar.xz,bench.mjs.xz,bench-assets.tar.xz} missing: run bash scripts/device/pack.sh here and carry $CARRY"
  exit 1
fi

unxz_to() { # unxz_to SRC DEST
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
    "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
untar_xz() { # untar_xz SRC DIR
  if command -v xz >/dev/null; then tar -xJf "$1" -C "$2"; else
    "$PY" -c 'import sys, tarfile; t = tarfile.open(sys.argv[1]); t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' "$1" "$2"
  fi
}

# --- setup: node, onnxruntime-node, the bundle --------------------------------------------------------------
unxz_to "$CARRY/node.xz" "$NODE" && chmod +x "$NODE"
untar_xz "$CARRY/ort.tar.xz" "$APP"
unxz_to "$CARRY/bench.mjs.xz" "$APP/bench.mjs"
untar_xz "$CARRY/bench-assets.tar.xz" "$APP" # the SIMD kernel and the sampler thread, beside the bundle
if ! "$NODE" --version >/dev/null 2>&1; then
  note "ERROR: the unpacked node does not run: $("$NODE" --version 2>&1 | head -3)"
  exit 1
fi
note "node $("$NODE" --version), $THREADS cores, $(uname -srm), $(date -u +%FT%TZ)"

# --- the released-shape weights, in the background (needed from the first released step on) ---------------
(timeout 120 "$PY" scripts/device/fill_weights.py --src "$CARRY/released" --out "$RELEASED" --dtypes float16,float32 \
  >"$W/fill.log" 2>&1; echo $? >"$W/fill.rc") &
FILL_PID=$!

# --- GPU: nvidia-smi, Vulkan loader and driver ------------------------------------------------------------
if command -v nvidia-smi >/dev/null; then
  note "nvidia-smi -L: $(nvidia-smi -L 2>&1 | tr '\n' ' ')"
  note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,utilization.gpu --format=csv,noheader 2>&1 | tr '\n' ' ')"
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 1 >"$W/gpu-monitor.csv" 2>&1 &
  MON_PID=$!
else
  note "nvidia-smi: not found"
fi
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' && ldconfig -p 2>/dev/null | grep -q 'libGLdispatch\.so\.0'; then
  log "Vulkan loader already present: $(ldconfig -p | grep 'libvulkan\.so\.1' | head -1)"
else
  for deb in "$CARRY"/debs/*.deb; do dpkg -x "$deb" "$VK_ROOT" || note "dpkg -x $deb failed"; done
  if [ "$VK_ROOT" = / ]; then ldconfig; else
    export LD_LIBRARY_PATH="$VK_ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  log "Vulkan loader from $CARRY/debs unpacked into $VK_ROOT"
fi
icds=$(ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ /usr/local/nvidia/share/vulkan/icd.d/ 2>/dev/null | tr '\n' ' ')
note "Vulkan ICD files: ${icds:-none}"
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1 && [ -f "$NVIDIA_ICD" ] &&
  [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=$NVIDIA_ICD
  note "no NVIDIA ICD in the standard folders: VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi

# --- steps -------------------------------------------------------------------------------------------------
# step NAME SHARE_PERCENT MODE ARGS...: node bench.mjs MODE ARGS --budget-s (a little under its timeout) --out
step() {
  local name=$1 share=$2
  shift 2
  local started left limit inner rc
  started=$(date +%s)
  left=$((DEADLINE - started))
  limit=$((BUDGET * share / 100))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 8 ]; then
    note "$name: skipped (${left} s left of the budget)"
    return
  fi
  inner=$((limit - limit / 10 - 3))
  log "$name: up to ${limit} s: node bench.mjs $*"
  timeout -k 5 "$limit" "$NODE" "$APP/bench.mjs" "$@" --budget-s "$inner" --out "$W/$name.json" >"$W/$name.log" 2>&1
  rc=$?
  log "$name: exit $rc after $(($(date +%s) - started)) s"
  if [ -s "$W/$name.json" ]; then
    "$NODE" "$APP/bench.mjs" summary "$W/$name.json" >>"$W/summary.txt" 2>&1
  else
    echo "$name: no JSON" >>"$W/summary.txt"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "  [$name] exit $rc$([ "$rc" -eq 124 ] && echo ' (timeout)'); last lines of its log:" >>"$W/summary.txt"
    tail -n 4 "$W/$name.log" | cut -c1-400 | sed "s/^/  [$name] /" >>"$W/summary.txt"
  fi
  grep -h -m 3 -iE "not assigned to the preferred|will be executed on CPU|fall(ing)? ?back" "$W/$name.log" 2>/dev/null |
    cut -c1-300 | sed "s/^/  [$name] /" >>"$W/summary.txt"
  publish
}
wait_fill() {
  if [ -n "$FILL_PID" ]; then
    wait "$FILL_PID"
    FILL_PID=""
    note "fill_weights: exit $(cat "$W/fill.rc" 2>/dev/null || echo '?'): $(tail -n 2 "$W/fill.log" | tr '\n' ' ')"
  fi
}

DEMO_GPU_PLAN=tput:first_hitting:1,tput:ddpm:1,tput:first_hitting:8,tput:ddpm:8,tput:first_hitting:32,tput:ddpm:32,tput:first_hitting:64,tput:ddpm:64
DEMO_GPU_FP16_PLAN=tput:first_hitting:1,tput:ddpm:1,tput:first_hitting:8,tput:ddpm:8,tput:first_hitting:32,tput:ddpm:32
DEMO_CPU_PLAN=tput:first_hitting:1,tput:ddpm:1,tput:first_hitting:8,tput:ddpm:8,tput:first_hitting:32,tput:ddpm:32
RELEASED_PLAN=pos:start,pos:full,tput:first_hitting:8,tput:first_hitting:1
# the fewer-forward goals (ddpm / confidence with L'/4 steps against first hitting at the same batch)
RELEASED_FEWER_PLAN=tput:first_hitting:1,tput:ddpm:1,tput:confidence:1,tput:first_hitting:4,tput:ddpm:4,tput:confidence:4,tput:first_hitting:8,tput:ddpm:8,tput:confidence:8
# the same points with the past uploaded every forward, or in whole versions only (the engine keeps it on the GPU
# and grows and patches it by the committed slots by default): what each part gains
RELEASED_HOSTPAST_PLAN=pos:full,tput:first_hitting:8,tput:ddpm:8
DEMO_OPTS=(--blocks 4 --min-seconds 1)
RELEASED_OPTS=(--blocks 2 --position-blocks 2 --min-seconds 1.5)

# Probe the GPU EP on the demo model: one session + one forward with ORT's verbose log (adapter, placement).
# A hung adapter request must not eat the budget: the probe gets 8% of it (at least 15 s), and is retried
# with the driver's ICD file only when it failed quickly rather than timing out.
PROBE_LIMIT=$((BUDGET * 8 / 100))
[ "$PROBE_LIMIT" -lt 15 ] && PROBE_LIMIT=15
probe() {
  timeout -k 5 "$PROBE_LIMIT" "$NODE" "$APP/bench.mjs" probe --model "$DEMO" --ep "$GPU_EP" \
    --out "$W/probe-$GPU_EP.json" >"$W/probe-$GPU_EP.log" 2>&1
}
GPU_OK=0
probe
probe_rc=$?
log "probe ($GPU_EP): exit $probe_rc"
if [ "$probe_rc" = 0 ]; then GPU_OK=1; elif [ "$probe_rc" != 124 ] && [ "$probe_rc" != 137 ] &&
  [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NVIDIA_ICD" ]; then
  mv "$W/probe-$GPU_EP.log" "$W/probe-$GPU_EP-first.log"
  export VK_DRIVER_FILES=$NVIDIA_ICD
  note "$GPU_EP probe failed; again with VK_DRIVER_FILES=$VK_DRIVER_FILES"
  probe && GPU_OK=1
fi
if [ -s "$W/probe-$GPU_EP.json" ]; then "$NODE" "$APP/bench.mjs" summary "$W/probe-$GPU_EP.json" >>"$W/summary.txt" 2>&1; fi
grep -h -iE "adapter|vendor|architecture|device ?(name|id)|backend type|vulkan|nvidia|not assigned" "$W/probe-$GPU_EP.log" 2>/dev/null |
  grep -v "Removing initializer\|Fused\|fused" | head -n 12 | cut -c1-300 | sed 's/^/  [probe] /' >>"$W/summary.txt"
publish

if [ "$GPU_OK" = 1 ]; then
  note "== $GPU_EP EP: ok"
  step gpu-demo-fp32 11 engine --model "$DEMO" --ep "$GPU_EP" --dtype float32 --plan "$DEMO_GPU_PLAN" "${DEMO_OPTS[@]}"
  wait_fill
  step gpu-released-fp16 12 engine --model "$RELEASED" --ep "$GPU_EP" --dtype float16 --plan "$RELEASED_PLAN" "${RELEASED_OPTS[@]}"
  step gpu-released-fp16-fewer 12 engine --model "$RELEASED" --ep "$GPU_EP" --dtype float16 --plan "$RELEASED_FEWER_PLAN" \
    "${RELEASED_OPTS[@]}"
  step gpu-released-fp16-hostpast 6 engine --model "$RELEASED" --ep "$GPU_EP" --dtype float16 --device-past off \
    --plan "$RELEASED_HOSTPAST_PLAN" "${RELEASED_OPTS[@]}"
  step gpu-released-fp16-fullpast 5 engine --model "$RELEASED" --ep "$GPU_EP" --dtype float16 --device-past full \
    --plan "$RELEASED_HOSTPAST_PLAN" "${RELEASED_OPTS[@]}"
  step gpu-released-fp32 7 engine --model "$RELEASED" --ep "$GPU_EP" --dtype float32 --plan "$RELEASED_PLAN" "${RELEASED_OPTS[@]}"
  step gpu-demo-fp16 4 engine --model "$DEMO" --ep "$GPU_EP" --dtype float16 --plan "$DEMO_GPU_FP16_PLAN" "${DEMO_OPTS[@]}"
  step gpu-session-fp32 6 session --model "$RELEASED" --ep "$GPU_EP" --dtype float32 --batches 1,8 --past 0,1008 \
    --runs 10 --min-seconds 1 --gpu-outputs --profile-runs 3
  step gpu-session-fp16 4 session --model "$RELEASED" --ep "$GPU_EP" --dtype float16 --batches 1,8 --past 0,1008 \
    --runs 10 --min-seconds 0.5 --gpu-outputs
else
  note "== $GPU_EP EP: FAILED, GPU steps skipped; error: $(grep -o '"error": *"[^"]*' "$W/probe-$GPU_EP.json" 2>/dev/null | head -1 | cut -c1-500)"
  tail -n 3 "$W/probe-$GPU_EP.log" 2>/dev/null | cut -c1-400 | sed 's/^/  [probe] /' >>"$W/summary.txt"
fi

note "== CPU EP, $THREADS threads"
step cpu-demo-fp32 5 engine --model "$DEMO" --ep cpu --dtype float32 --threads "$THREADS" --plan "$DEMO_CPU_PLAN" "${DEMO_OPTS[@]}"
wait_fill
step cpu-released-fp32 10 engine --model "$RELEASED" --ep cpu --dtype float32 --threads "$THREADS" --plan "$RELEASED_PLAN" "${RELEASED_OPTS[@]}"
step cpu-session-fp32 5 session --model "$RELEASED" --ep cpu --dtype float32 --threads "$THREADS" --batches 1,8 --past 0,1008 \
  --runs 10 --min-seconds 1 --profile-runs 3

echo "================ engine benchmark summary ================"
cat "$W/summary.txt"
