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

describe("device past cache (on the CPU provider)", () => {
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
    const patched = await cache.get(2, key, value, DIMS, { baseVersion: 1, slots: [[0, 1]], tokensPerSlot: 1 });
    expect(patched.source).toBe("patched");
    // 4 rows of (layer, head): int64 indices [4, 4] + two [4, 4] float32 row blocks
    expect(patched.uploadedBytes).toBe(4 * 4 * 8 + 2 * 4 * 4 * 4);
    expect(Array.from(patched.key.data as Float32Array)).toEqual(Array.from(key));
    expect(Array.from(patched.value.data as Float32Array)).toEqual(Array.from(value));
    // A patch whose base is not held is uploaded whole; "full" caches never patch.
    expect((await cache.get(3, key, value, DIMS, { baseVersion: 99, slots: [[0, 1]], tokensPerSlot: 1 })).source).toBe(
      "uploaded",
    );
    await cache.close();
    const whole = await DevicePastCache.create("cpu", "float32", { patches: false });
    await whole.get(1, key, value, DIMS);
    expect((await whole.get(2, key, value, DIMS, { baseVersion: 1, slots: [[0, 1]], tokensPerSlot: 1 })).source).toBe(
      "uploaded",
    );
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
