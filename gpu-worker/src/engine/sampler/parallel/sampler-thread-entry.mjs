// Node worker_threads start in plain Node; this registers tsx's loader (as `node --import tsx` does for the
// main thread) and then runs the TypeScript sampler thread. The production build bundles sampler-thread.ts
// under this same file name (gpu-worker/scripts/build.ts), so the pool starts it by one name in both.
import { register } from "tsx/esm/api";

register();
await import("./sampler-thread.ts");
