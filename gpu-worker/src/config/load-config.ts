/**
 * Reads the worker's settings: the process environment, plus a `.env` file when one exists (variables already
 * in the environment win, as with `process.loadEnvFile`). Validation errors name every bad variable at once.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { WorkerEnvSchema } from "./schema.ts";
import { toWorkerConfig, type WorkerConfig } from "./worker-config.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    message: string,
    readonly issues: { variable: string; message: string }[],
  ) {
    super(message);
  }
}

export interface LoadConfigOptions {
  /** Environment to read; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** `.env` file to merge under the environment; default `.env` in the working directory; `null` for none. */
  envFile?: string | null;
}

/** Merges a dotenv file's variables under `env` (the environment wins). Missing file: `env` unchanged. */
export function mergeEnvFile(
  env: Record<string, string | undefined>,
  envFile: string | null,
): Record<string, string | undefined> {
  if (envFile === null || !existsSync(envFile)) return env;
  const fromFile = parseEnv(readFileSync(envFile, "utf8"));
  return { ...fromFile, ...Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) };
}

/**
 * @example
 * const config = loadConfig(); // throws ConfigError("SQS_QUEUE_URL: Invalid input: expected string ...")
 */
export function loadConfig(options: LoadConfigOptions = {}): WorkerConfig {
  const env = mergeEnvFile(options.env ?? process.env, options.envFile === undefined ? ".env" : options.envFile);
  // An empty variable counts as unset, so `FOO=` in a .env file falls back to the default.
  const nonEmpty = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = WorkerEnvSchema.safeParse(nonEmpty);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      variable: issue.path.length > 0 ? String(issue.path[0]) : "(environment)",
      message:
        issue.code === "invalid_type" && issue.message.endsWith("received undefined") ? "is required" : issue.message,
    }));
    const lines = issues.map((issue) => `  ${issue.variable}: ${issue.message}`);
    throw new ConfigError(`invalid worker settings:\n${lines.join("\n")}`, issues);
  }
  return toWorkerConfig(parsed.data);
}
