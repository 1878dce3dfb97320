/**
 * The engine on onnxruntime's WebGPU execution provider, for real: on a machine without a GPU it runs on Mesa's
 * software Vulkan driver (lavapipe, scripts/webgpu/install-lavapipe.sh), which CI installs. Speed means nothing
 * there; placement, device-resident tensors and tokens are what a GPU would give.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { DevicePastCache, pastUploadGraph } from "../../src/engine/model/device-past.ts";
import type { EngineOptions } from "../../src/engine/types.ts";
import { packageExists, TINY_PACKAGE_DIR } from "./support/packages.ts";
import { generateBatch, mixedBatchRequests } from "./support/run.ts";
import { isWebgpuRequired, webgpuPlacement, webgpuUnavailableReason } from "./support/webgpu.ts";

const unavailable = await webgpuUnavailableReason();

/** Reads device tensors back through a session whose outputs are CPU tensors. */
async function readBack(key: ort.Tensor, value: ort.Tensor): Promise<[number[], number[]]> {
  const session = await ort.InferenceSession.create(pastUploadGraph("float32"), { executionProviders: ["webgpu"] });
  const results = await session.run({ key, value });
  await session.release();
  return [Array.from(results.key_out?.data as Float32Array), Array.from(results.value_out?.data as Float32Array)];
}

/** The first three of the mixed batch (three strategies; rows join and leave, windows grow and slide). */
function generate(options: Partial<EngineOptions>) {
  return generateBatch(mixedBatchRequests().slice(0, 3), options);
}

describe.skipIf(unavailable !== null && !isWebgpuRequired)("on the WebGPU execution provider", () => {
  it("creates a WebGPU session here", () => {
    // Only reached where WebGPU is required (CI) or available: there it must work.
    expect(unavailable).toBeNull();
  });

  it("keeps the past on the device: uploads, grows and patches it there, every helper node on WebGPU", async () => {
    // DevicePastCache refuses CPU fallback on a device, so creating it proves Identity, Pad and ScatterND run on
    // WebGPU; a patch session it could not create would be reported here.
    const failures: Error[] = [];
    const cache = await DevicePastCache.create("webgpu", "float32", {
      onPatchFailure: (error) => failures.push(error),
    });
    const base = Float32Array.from({ length: 2 * 3 }, (_, i) => i + 1); // [L=1, B=1, H=1, P=2, D=3]
    const uploaded = await cache.get(1, base, base, [1, 1, 1, 2, 3]);
    expect(uploaded.source).toBe("uploaded");
    expect(uploaded.key.location).toBe("gpu-buffer");
    // Grow P by a slot of two tokens and write it: the host buffer holds the new version.
    const host = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const patch = { baseVersion: 1, basePastLength: 2, slots: [[0, 1]] as [number, number][], tokensPerSlot: 2 };
    const grown = await cache.get(2, host, host, [1, 1, 1, 4, 3], patch);
    expect(failures).toEqual([]);
    expect(grown.source).toBe("patched");
    expect(grown.key.location).toBe("gpu-buffer");
    expect(grown.key.dims).toEqual([1, 1, 1, 4, 3]);
    const [key, value] = await readBack(grown.key, grown.value);
    expect(key).toEqual(Array.from(host));
    expect(value).toEqual(Array.from(host));
    await cache.close();
  });

  it.each(["model.onnx", "model.fp16.onnx"])(
    "places the denoiser (%s) so that the past is never copied to the host between nodes",
    (graph) => {
      // ORT puts shape arithmetic on the CPU; if one of those nodes read the past, the device past would be
      // downloaded on every forward. Its report lists every copy it inserts between devices.
      const placement = webgpuPlacement(`${TINY_PACKAGE_DIR}/${graph}`);
      expect(placement.nodesByProvider.WebGpuExecutionProvider?.length).toBeGreaterThan(50);
      expect(placement.copiedToHost).toEqual([]);
      expect(placement.copiedFromHost).not.toContain("past_key");
      expect(placement.copiedFromHost).not.toContain("past_value");
      const onCpu = placement.nodesByProvider.CPUExecutionProvider ?? [];
      expect(onCpu.filter((node) => /^(MatMul|Softmax|LayerNormalization|FastGelu) /.test(node))).toEqual([]);
      // The exporter's contrib FastGelu (one per layer; the tiny model has two) runs on the device.
      const onDevice = placement.nodesByProvider.WebGpuExecutionProvider ?? [];
      expect(onDevice.filter((node) => node.startsWith("FastGelu ")).length).toBe(2);
    },
  );

  it.skipIf(!packageExists(TINY_PACKAGE_DIR))(
    "generates the CPU provider's tokens, keeping the past on the device by default",
    async () => {
      const cpu = await generate({ executionProviders: ["cpu"] });
      const gpu = await generate({ executionProviders: ["webgpu"] });
      expect(gpu.provider).toBe("webgpu");
      expect(Object.keys(gpu.tokens).sort()).toEqual(["conf", "ddpm", "fh"]);
      expect(gpu.tokens).toEqual(cpu.tokens);
      expect(gpu.counters?.pastReuses).toBeGreaterThan(0);
      expect(gpu.counters?.pastPatches).toBeGreaterThan(0);
    },
  );

  it.skipIf(!packageExists(TINY_PACKAGE_DIR)).each(["float32", "float16"] as const)(
    "gives the same %s tokens with the device past on, in whole uploads and off, each sending fewer bytes",
    async (dtype) => {
      const runs = await Promise.all(
        (["off", "full", "on"] as const).map((devicePast) =>
          generate({ executionProviders: ["webgpu"], devicePast, dtype }),
        ),
      );
      const [off, full, on] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
      expect(full.tokens).toEqual(off.tokens);
      expect(on.tokens).toEqual(off.tokens);
      expect(off.counters?.pastReuses).toBe(0);
      expect(full.counters?.pastPatches).toBe(0);
      expect(full.counters?.bytesIn).toBeLessThan(off.counters?.bytesIn ?? 0);
      expect(on.counters?.bytesIn).toBeLessThan(full.counters?.bytesIn ?? 0);
    },
  );
});
