import * as ort from "onnxruntime-node";
import { loadModelPackage } from "../../src/engine/model/model-package.ts";

import { log, type ReportWriter } from "./common.ts";
import { buildFeeds, sessionOptions } from "./session-mode.ts";

export async function probeMode(writer: ReportWriter, modelDir: string): Promise<void> {
  ort.env.logLevel = "verbose";
  log(`supported backends: ${JSON.stringify(ort.listSupportedBackends())}`);
  const pkg = await loadModelPackage(modelDir, { dtype: writer.report.dtype });
  const opened = performance.now();
  const session = await ort.InferenceSession.create(pkg.graphPath, sessionOptions(writer.report.ep, undefined));
  writer.report.openSeconds = (performance.now() - opened) / 1_000;
  writer.report.executionProvider = writer.report.ep;
  const { feeds } = buildFeeds(session, pkg.manifest, pkg.dtype, 1, pkg.manifest.block_size, 0, 1);
  const started = performance.now();
  const results = await session.run(feeds);
  const logits = results[pkg.manifest.io.outputs.logits] as ort.Tensor;
  const values = logits.data as Float32Array;
  let finite = 0;
  for (const v of values) if (Number.isFinite(v)) finite++;
  writer.add({
    task: "probe",
    firstRunMs: performance.now() - started,
    logitsDims: logits.dims,
    finiteShare: finite / Math.max(1, values.length),
    backends: ort.listSupportedBackends(),
  });
  await session.release();
}
