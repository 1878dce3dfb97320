import { defineConfig } from "vitest/config";

/** One vitest run covers every workspace; each has its own config (the edge runs inside workerd). */
export default defineConfig({
  test: {
    projects: ["shared/vitest.config.ts", "gpu-worker/vitest.config.ts", "edge/vitest.config.ts", "tests/vitest.config.ts"],
  },
});
