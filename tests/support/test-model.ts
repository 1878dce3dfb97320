/**
 * The model package the whole-stack tests run (no vitest import: the global setup reads it too): TEST_MODEL_DIR
 * when set; else the demo model when it is in the repo; else the tiny random package (same contract,
 * meaningless text). The stack's default model is this one, so `queueUrl` is its normal queue.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

export const MODEL_DIR = [process.env.TEST_MODEL_DIR ?? "", "models/kjv-bd3lm-b16", "models/tiny-random-b4"]
  .filter((dir) => dir !== "")
  .map((dir) => resolve(REPO_ROOT, dir))
  .find((dir) => existsSync(join(dir, "manifest.json"))) as string;
export const MODEL_NAME = (JSON.parse(readFileSync(join(MODEL_DIR, "manifest.json"), "utf8")) as { name: string }).name;
