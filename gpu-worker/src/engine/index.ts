export { createEngine } from "./create-engine.ts";
export { zeroCounters } from "./engine-options.ts";
export type * from "./types.ts";
