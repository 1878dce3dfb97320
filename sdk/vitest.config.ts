import { defineConfig } from "vitest/config";

/** Unit tests of the SDK and the CLI: no stack, fetch is faked (the whole-stack test is tests/sdk.test.ts). */
export default defineConfig({
  test: { name: "sdk", include: ["src/**/*.test.ts", "test/**/*.test.ts"], environment: "node" },
});
