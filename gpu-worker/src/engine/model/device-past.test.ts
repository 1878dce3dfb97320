import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { DevicePastCache, pastUploadGraph } from "./device-past.ts";

const DIMS = [2, 1, 2, 3, 4];
const ELEMENTS = DIMS.reduce((product, dim) => product * dim, 1);

function ramp(start: number): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, i) => start + i);
}

describe("past upload graph (onnx-writer)", () => {
  it.each(["float32", "float16"] as const)("is a %s graph onnxruntime loads and runs as two copies", async (dtype) => {
    const session = await ort.InferenceSession.create(pastUploadGraph(dtype));
    expect(session.inputNames).toEqual(["key", "value"]);
    expect(session.outputNames).toEqual(["key_out", "value_out"]);
    expect(session.inputMetadata[0]).toMatchObject({
      isTensor: true,
      type: dtype,
      shape: ["layers", "batch", "heads", "past", "head_dim"],
    });
    const key = dtype === "float16" ? Uint16Array.from(ramp(1)) : ramp(1);
    const value = dtype === "float16" ? Uint16Array.from(ramp(100)) : ramp(100);
    const results = await session.run({
      key: new ort.Tensor(dtype, key, DIMS),
      value: new ort.Tensor(dtype, value, DIMS),
    });
    expect(results.key_out?.dims).toEqual(DIMS);
    expect(Array.from(results.key_out?.data as ArrayLike<number>)).toEqual(Array.from(key));
    expect(Array.from(results.value_out?.data as ArrayLike<number>)).toEqual(Array.from(value));
    await session.release();
  });
});

/** A patch of DIMS that rewrote token 1 (a slot of one token) of row 0 at the same P. */
function slotPatch(baseVersion: number) {
  return { baseVersion, basePastLength: DIMS[3] as number, slots: [[0, 1]] as [number, number][], tokensPerSlot: 1 };
}

describe("device past cache (on the CPU provider)", () => {
  it("grows a version by new slots on the device: old columns kept, written slots uploaded, the rest zeros", async () => {
    // Base [L=2, B=2, H=1, P=2, D=3] grows to P=4 tokens (slots of two tokens): row 0 gains slot 1, row 1 none.
    const [numLayers, batchSize, numHeads, headDim, slotTokens] = [2, 2, 1, 3, 2];
    const index = (pastLength: number, layer: number, row: number, token: number) =>
      (((layer * batchSize + row) * numHeads + 0) * pastLength + token) * headDim;
    const base = Float32Array.from({ length: numLayers * batchSize * 2 * headDim }, (_, i) => i + 1);
    const cache = await DevicePastCache.create("cpu", "float32");
    await cache.get(1, base, base, [numLayers, batchSize, numHeads, 2, headDim]);
    // The host buffer at P=4: base columns moved to their new offsets, row 0's slot 1 written, row 1's junk.
    const grownDims = [numLayers, batchSize, numHeads, 4, headDim];
    const host = new Float32Array(numLayers * batchSize * 4 * headDim).fill(-5);
    const expected = new Float32Array(host.length);
    for (let layer = 0; layer < numLayers; layer++) {
      for (let row = 0; row < batchSize; row++) {
        const old = base.subarray(index(2, layer, row, 0), index(2, layer, row, 2));
        host.set(old, index(4, layer, row, 0));
        expected.set(old, index(4, layer, row, 0));
      }
      const written = Float32Array.from({ length: slotTokens * headDim }, (_, i) => 100 * (layer + 1) + i);
      host.set(written, index(4, layer, 0, 2));
      expected.set(written, index(4, layer, 0, 2));
    }
    const patch = { baseVersion: 1, basePastLength: 2, slots: [[0, 1]] as [number, number][], tokensPerSlot: 2 };
    const grown = await cache.get(2, host, host, grownDims, patch);
    expect(grown.source).toBe("patched");
    expect(grown.key.dims).toEqual(grownDims);
    expect(Array.from(grown.key.data as Float32Array)).toEqual(Array.from(expected));
    expect(Array.from(grown.value.data as Float32Array)).toEqual(Array.from(expected));
    // A patch whose stated base P does not match the held base is uploaded whole instead.
    await cache.get(3, base, base, [numLayers, batchSize, numHeads, 2, headDim]);
    const mismatched = await cache.get(4, host, host, grownDims, { ...patch, baseVersion: 3, basePastLength: 1 });
    expect(mismatched.source).toBe("uploaded");
    await cache.close();
  });

  it("patches a version that differs by rewritten slots, uploading only those slots", async () => {
    // [L=2, B=1, H=2, P=3 tokens... ] with slots of one token: DIMS = [2, 1, 2, 3, 4]
    const cache = await DevicePastCache.create("cpu", "float32");
    const key = ramp(0);
    const value = ramp(1_000);
    await cache.get(1, key, value, DIMS);
    // Rewrite token 1 of every (layer, head) on the host, as BatchPast does for a slot of one token.
    const headDim = DIMS[4] as number;
    for (let run = 0; run < 4; run++) {
      const at = (run * 3 + 1) * headDim;
      key.fill(-7, at, at + headDim);
      value.fill(-9, at, at + headDim);
    }
    const patched = await cache.get(2, key, value, DIMS, slotPatch(1));
    expect(patched.source).toBe("patched");
    // 4 rows of (layer, head): int64 pads [10] + int64 indices [4, 4] + two [4, 4] float32 row blocks
    expect(patched.uploadedBytes).toBe(10 * 8 + 4 * 4 * 8 + 2 * 4 * 4 * 4);
    expect(Array.from(patched.key.data as Float32Array)).toEqual(Array.from(key));
    expect(Array.from(patched.value.data as Float32Array)).toEqual(Array.from(value));
    // A patch whose base is not held is uploaded whole; "full" caches never patch.
    expect((await cache.get(3, key, value, DIMS, slotPatch(99))).source).toBe("uploaded");
    await cache.close();
    const whole = await DevicePastCache.create("cpu", "float32", { patches: false });
    await whole.get(1, key, value, DIMS);
    expect((await whole.get(2, key, value, DIMS, slotPatch(1))).source).toBe("uploaded");
    await whole.close();
  });

  it("uploads each version once, serves it unchanged until evicted, and keeps two versions", async () => {
    const cache = await DevicePastCache.create("cpu", "float32");
    const key = ramp(0);
    const value = ramp(1_000);
    const first = await cache.get(1, key, value, DIMS);
    expect(first.uploadedBytes).toBe(2 * ELEMENTS * 4);
    key.fill(-1); // the host buffer moves on; version 1 on the device must not
    const again = await cache.get(1, key, value, DIMS);
    expect(again.uploadedBytes).toBe(0);
    expect(Array.from(again.key.data as Float32Array)).toEqual(Array.from(ramp(0)));
    const second = await cache.get(2, key, value, DIMS);
    expect(second.uploadedBytes).toBe(2 * ELEMENTS * 4);
    expect((second.key.data as Float32Array).every((x) => x === -1)).toBe(true);
    expect((await cache.get(1, key, value, DIMS)).uploadedBytes).toBe(0); // still held; now the most recent
    await cache.get(3, key, value, DIMS); // evicts version 2, the least recently used
    expect((await cache.get(1, key, value, DIMS)).uploadedBytes).toBe(0);
    expect((await cache.get(2, key, value, DIMS)).uploadedBytes).toBe(2 * ELEMENTS * 4);
    await cache.close();
  });
});
