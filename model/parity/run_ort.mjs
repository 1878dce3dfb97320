// Runs an ONNX graph with onnxruntime-node on saved inputs and writes the outputs, so the Python tests can
// compare ONNX Runtime against PyTorch (there is no Python onnxruntime here).
//
//   node model/parity/run_ort.mjs <model.onnx> <cases-dir>
//
// <cases-dir>/cases.json: [{ "id": "c0", "inputs": { "<name>": { "dtype": "int64|float32|float16|bool",
//   "shape": [..], "file": "c0_input_ids.bin" } } }]  (files: raw little-endian, bool as one byte)
// Writes <cases-dir>/<id>__<output>.bin for every output and <cases-dir>/outputs.json with dtypes/shapes and
// the run time of each case in milliseconds.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";

const [modelPath, dir] = process.argv.slice(2);
if (!modelPath || !dir) {
  console.error("usage: node run_ort.mjs <model.onnx> <cases-dir>");
  process.exit(2);
}

function toTensor(spec) {
  const buf = readFileSync(join(dir, spec.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  let data;
  switch (spec.dtype) {
    case "int64":
      data = new BigInt64Array(ab);
      break;
    case "float32":
      data = new Float32Array(ab);
      break;
    case "float16":
      data = new Uint16Array(ab);
      break;
    case "bool":
      data = new Uint8Array(ab);
      break;
    default:
      throw new Error(`unsupported dtype ${spec.dtype}`);
  }
  return new ort.Tensor(spec.dtype, data, spec.shape);
}

const threads = Number(process.env.ORT_THREADS || 2);
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all",
  intraOpNumThreads: threads,
});
const cases = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8"));
const report = { inputNames: session.inputNames, outputNames: session.outputNames, cases: [] };
for (const c of cases) {
  const feeds = {};
  for (const [name, spec] of Object.entries(c.inputs)) feeds[name] = toTensor(spec);
  const t0 = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - t0;
  const outs = {};
  for (const [name, t] of Object.entries(out)) {
    const file = `${c.id}__${name}.bin`;
    const d = t.data;
    writeFileSync(join(dir, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    outs[name] = { dtype: t.type, shape: t.dims, file };
  }
  report.cases.push({ id: c.id, ms, outputs: outs });
}
writeFileSync(join(dir, "outputs.json"), JSON.stringify(report, null, 2));
