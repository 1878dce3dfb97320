import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "gpu-worker",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
  },
});
