export { createEngine, zeroCounters } from "./engine.ts";
export type * from "./types.ts";
