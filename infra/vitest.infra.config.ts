import { defineConfig } from "vitest/config";

/**
 * Synth tests of the CDK app and the Kubernetes manifest tests (k8s/). Not a root vitest project (the root
 * `npm ci` does not install aws-cdk-lib or the Kubernetes schemas): run with
 * `npm --prefix infra ci && npm --prefix infra test`.
 */
export default defineConfig({
  test: {
    name: "infra",
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
