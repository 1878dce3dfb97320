import { createEngine } from "../src/engine/index.ts";
import { params } from "./measure.ts";

const dir = process.argv[2] ?? "models/.cache/random-owt-b16";
const dtype = (process.argv[3] ?? "float32") as "float32" | "float16";
const engine = await createEngine({ modelDir: dir, maxBatchSize: 8, dtype });
const committed = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 50000);
engine.addRequest({
  requestId: "r",
  prompt: "",
  params: params("first_hitting", 1100, 1),
  committedTokenIds: committed,
  startBlockIndex: 1,
});
let last = engine.stats().counters!;
let t = performance.now();
let n = 0;
while (engine.hasWork() && n++ < 40) {
  const out = await engine.step();
  const c = engine.stats().counters!;
  const now = performance.now();
  console.log(
    `fwd ${(c.forwardMsTotal - last.forwardMsTotal).toFixed(1)} prep ${(c.prepareMsTotal - last.prepareMsTotal).toFixed(2)} samp ${(c.samplingMsTotal - last.samplingMsTotal).toFixed(2)} wall ${(now - t).toFixed(1)} in ${((c.bytesIn - last.bytesIn) / 1e6).toFixed(2)}MB copy ${((c.kvCopyBytes - last.kvCopyBytes) / 1e6).toFixed(2)}MB ${out.length ? "BLOCK" : ""}`,
  );
  last = c;
  t = now;
}
await engine.close();
