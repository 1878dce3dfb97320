import { defineConfig } from "vitest/config";

/** One vitest run covers every workspace; each has its own config (the edge runs inside workerd). */
export default defineConfig({
  test: {
    projects: ["*/vitest.config.ts"],
  },
});
