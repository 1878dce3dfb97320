import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.ts";

const baseEnv = {
  SQS_QUEUE_URL: "http://sqs.us-east-1.localhost:4566/000000000000/jobs",
  SQS_ENDPOINT: "http://127.0.0.1:4566",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  EDGE_URL: "http://127.0.0.1:8787/",
  MODEL_DIR: "models/kjv-bd3lm-b16",
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ env, envFile: null });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies defaults and groups the settings", () => {
    const config = loadConfig({ env: baseEnv, envFile: null });
    expect(config.queue.receiveWaitSeconds).toBe(20);
    expect(config.queue.visibilityTimeoutSeconds).toBe(10);
    expect(config.queue.heartbeatIntervalSeconds).toBe(2.5);
    expect(config.engine.executionProviders).toEqual(["cpu"]);
    expect(config.engine.maxBatchSize).toBe(8);
    expect(config.edge.baseUrl).toBe("http://127.0.0.1:8787");
    expect(config.queue.credentials).toEqual({ accessKeyId: "test", secretAccessKey: "test" });
    expect(config.workerId.length).toBeGreaterThan(0);
  });

  it("reads the sampler's thread count (0 allowed: sampling on the engine's thread), naming a bad value", () => {
    expect(loadConfig({ env: baseEnv, envFile: null }).engine.samplerThreads).toBeUndefined();
    expect(loadConfig({ env: { ...baseEnv, SAMPLER_THREADS: "0" }, envFile: null }).engine.samplerThreads).toBe(0);
    expect(loadConfig({ env: { ...baseEnv, SAMPLER_THREADS: "3" }, envFile: null }).engine.samplerThreads).toBe(3);
    expect(configError({ ...baseEnv, SAMPLER_THREADS: "-1" }).issues.map((issue) => issue.variable)).toEqual([
      "SAMPLER_THREADS",
    ]);
  });

  it("reads where the past lives between forwards (auto by default), naming a bad value", () => {
    expect(loadConfig({ env: baseEnv, envFile: null }).engine.devicePast).toBe("auto");
    expect(loadConfig({ env: { ...baseEnv, DEVICE_PAST: "off" }, envFile: null }).engine.devicePast).toBe("off");
    expect(configError({ ...baseEnv, DEVICE_PAST: "gpu" }).issues.map((issue) => issue.variable)).toEqual([
      "DEVICE_PAST",
    ]);
  });

  it("binds the metrics server to loopback unless METRICS_HOST says otherwise, naming a bad value", () => {
    expect(loadConfig({ env: baseEnv, envFile: null }).metrics.host).toBe("127.0.0.1");
    expect(loadConfig({ env: { ...baseEnv, METRICS_HOST: "0.0.0.0" }, envFile: null }).metrics.host).toBe("0.0.0.0");
    expect(loadConfig({ env: { ...baseEnv, METRICS_HOST: "::1" }, envFile: null }).metrics.host).toBe("::1");
    for (const bad of ["everywhere", "0.0.0.0:9464", "http://0.0.0.0"]) {
      const error = configError({ ...baseEnv, METRICS_HOST: bad });
      expect(error.issues.map((issue) => issue.variable)).toEqual(["METRICS_HOST"]);
      expect(error.message).toContain("METRICS_HOST: must be an IP address to bind");
    }
  });

  it("reads one queue (SQS_QUEUE_URL) or a model's queues by priority (SQS_QUEUE_URLS, highest first), not both", () => {
    const single = loadConfig({ env: baseEnv, envFile: null }).queue;
    expect(single.queueUrls).toEqual([baseEnv.SQS_QUEUE_URL]);
    expect([single.lowestFirstEveryRounds, single.priorityReceiveWaitSeconds]).toEqual([5, 2]);
    const { SQS_QUEUE_URL: _single, ...withoutSingle } = baseEnv;
    const urls = ["high", "normal", "low"].map((name) => `http://sqs.us-east-1.localhost:4566/000000000000/${name}`);
    const byPriority = loadConfig({
      env: { ...withoutSingle, SQS_QUEUE_URLS: urls.join(" , "), RECEIVE_LOWEST_FIRST_EVERY_ROUNDS: "3" },
      envFile: null,
    }).queue;
    expect([byPriority.queueUrls, byPriority.lowestFirstEveryRounds]).toEqual([urls, 3]);
    expect(configError({ ...baseEnv, SQS_QUEUE_URLS: urls.join(",") }).issues.map((issue) => issue.variable)).toEqual([
      "SQS_QUEUE_URLS",
    ]);
    expect(configError({ ...withoutSingle, SQS_QUEUE_URLS: "high,normal" }).issues[0]?.variable).toBe("SQS_QUEUE_URLS");
    expect(configError({ ...baseEnv, RECEIVE_LOWEST_FIRST_EVERY_ROUNDS: "1" }).issues[0]?.variable).toBe(
      "RECEIVE_LOWEST_FIRST_EVERY_ROUNDS",
    );
  });

  it("names a missing setting", () => {
    const { SQS_QUEUE_URL: _omitted, ...env } = baseEnv;
    const error = configError(env);
    expect(error.issues.map((issue) => issue.variable)).toEqual(["SQS_QUEUE_URL"]);
    expect(error.message).toContain("SQS_QUEUE_URL: is required");
  });

  it("names every bad setting at once", () => {
    const error = configError({
      ...baseEnv,
      MAX_BATCH_SIZE: "zero",
      EXECUTION_PROVIDERS: "cuda,tpu",
      EDGE_URL: "nope",
    });
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual([
      "EDGE_URL",
      "EXECUTION_PROVIDERS",
      "MAX_BATCH_SIZE",
    ]);
  });

  it("refuses a heartbeat interval that is not below the visibility timeout", () => {
    const error = configError({ ...baseEnv, VISIBILITY_TIMEOUT_SECONDS: "30", HEARTBEAT_INTERVAL_SECONDS: "30" });
    expect(error.issues[0]?.variable).toBe("HEARTBEAT_INTERVAL_SECONDS");
  });

  it("refuses a receive wait above SQS's 20 s long poll", () => {
    expect(configError({ ...baseEnv, RECEIVE_WAIT_SECONDS: "21" }).issues[0]?.variable).toBe("RECEIVE_WAIT_SECONDS");
  });

  it("refuses a long poll that would not end within the shutdown grace period", () => {
    const error = configError({ ...baseEnv, RECEIVE_WAIT_SECONDS: "20", SHUTDOWN_GRACE_SECONDS: "10" });
    expect(error.issues[0]?.variable).toBe("RECEIVE_WAIT_SECONDS");
  });

  it("wants both static credentials or neither", () => {
    const { AWS_SECRET_ACCESS_KEY: _omitted, ...env } = baseEnv;
    expect(configError(env).issues[0]?.variable).toBe("AWS_SECRET_ACCESS_KEY");
  });

  it("reads a Cloudflare Access service token: both halves or neither, naming the missing one", () => {
    expect(loadConfig({ env: baseEnv, envFile: null }).edge.accessServiceToken).toBeUndefined();
    const token = { CF_ACCESS_CLIENT_ID: "abc.access", CF_ACCESS_CLIENT_SECRET: "s3cret-value-0123456789" };
    expect(loadConfig({ env: { ...baseEnv, ...token }, envFile: null }).edge.accessServiceToken).toEqual({
      clientId: "abc.access",
      clientSecret: "s3cret-value-0123456789",
    });
    const withoutSecret = configError({ ...baseEnv, CF_ACCESS_CLIENT_ID: token.CF_ACCESS_CLIENT_ID });
    expect(withoutSecret.issues).toEqual([
      {
        variable: "CF_ACCESS_CLIENT_SECRET",
        message: "set both CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET, or neither",
      },
    ]);
    const withoutId = configError({ ...baseEnv, CF_ACCESS_CLIENT_SECRET: token.CF_ACCESS_CLIENT_SECRET });
    expect(withoutId.issues.map((issue) => issue.variable)).toEqual(["CF_ACCESS_CLIENT_ID"]);
    // The start-up error names the setting, never its value (main.ts prints it to stderr).
    expect(withoutId.message).toContain("CF_ACCESS_CLIENT_ID");
    expect(withoutId.message).not.toContain(token.CF_ACCESS_CLIENT_SECRET);
    // An empty value counts as unset (a `.env` line `CF_ACCESS_CLIENT_SECRET=`): still one half only.
    expect(
      configError({ ...baseEnv, ...token, CF_ACCESS_CLIENT_SECRET: "" }).issues.map((issue) => issue.variable),
    ).toEqual(["CF_ACCESS_CLIENT_SECRET"]);
  });

  it("defaults the SQS endpoint to the region's", () => {
    const { SQS_ENDPOINT: _omitted, ...env } = baseEnv;
    expect(loadConfig({ env: { ...env, AWS_REGION: "eu-west-1" }, envFile: null }).queue.endpoint).toBe(
      "https://sqs.eu-west-1.amazonaws.com",
    );
  });

  it("reads a .env file under the environment (the environment wins)", () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-env-"));
    const file = join(dir, ".env");
    writeFileSync(file, "MAX_BATCH_SIZE=4\nEDGE_URL=http://from-file:1\nMODEL_DIR=\n");
    const config = loadConfig({ env: baseEnv, envFile: file });
    expect(config.engine.maxBatchSize).toBe(4);
    expect(config.edge.baseUrl).toBe("http://127.0.0.1:8787");
    expect(config.engine.modelDir).toBe("models/kjv-bd3lm-b16");
  });
});
