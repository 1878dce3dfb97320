export { createEngine } from "./engine.ts";
export type * from "./types.ts";
