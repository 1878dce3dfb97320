// Worker threads start in plain Node; this registers tsx's loader (as `node --import tsx` does for the main
// thread) and then runs the TypeScript worker.
import { register } from "tsx/esm/api";

register();
await import("./sampler-worker.ts");
