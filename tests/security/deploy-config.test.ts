/**
 * Issue 21, deploy safety: wrangler.toml read with wrangler's own config reader. Development (the top level)
 * and every deployed environment never share a worker name, so a plain `wrangler deploy` cannot replace
 * production with the development configuration; deployed environments carry no dev key, no dev secret, no
 * secret as a plain var, and no workers.dev route.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { REPO_ROOT } from "../support/stack.ts";

const CONFIG_PATH = join(REPO_ROOT, "wrangler.toml");
const DEPLOYED = ["staging", "production"] as const;
/** Bindings that must only ever be secrets in a deployed environment. */
const SECRET_NAMES = [
  "WORKER_CAPABILITY_SECRET",
  "WORKER_CAPABILITY_SECRET_PREVIOUS",
  "WEBHOOK_SIGNING_SECRET",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
];

function read(env?: string) {
  return unstable_readConfig({ config: CONFIG_PATH, ...(env !== undefined ? { env } : {}) }, { hideWarnings: true });
}

describe("wrangler.toml", () => {
  const development = read();
  const devVars = development.vars as Record<string, string>;
  const devKeyHashes = (JSON.parse(devVars.API_KEYS ?? "[]") as { sha256: string }[]).map((key) => key.sha256);

  it("keeps the development configuration at the top level, under a name of its own", () => {
    expect(devVars.ENVIRONMENT).toBe("development");
    expect(devKeyHashes.length).toBeGreaterThan(0);
    expect(development.name).toMatch(/-dev$/);
  });

  for (const env of DEPLOYED) {
    it(`gives ${env} its own name, no workers.dev, no dev key, no dev value and no secret as a var`, () => {
      const config = read(env);
      const vars = config.vars as Record<string, string>;
      expect(config.name).not.toBe(development.name);
      expect(config.name).not.toBe(read(DEPLOYED.find((other) => other !== env)).name);
      expect(config.workers_dev).toBe(false);
      expect(vars.ENVIRONMENT).toBe(env);
      for (const hash of devKeyHashes) expect(JSON.stringify(vars)).not.toContain(hash);
      for (const [name, value] of Object.entries(vars)) {
        expect(String(value).startsWith("dev-"), `${env} var ${name}`).toBe(false);
        expect(String(value)).not.toContain("127.0.0.1");
      }
      for (const name of SECRET_NAMES) expect(vars, `${env} must not set ${name} as a var`).not.toHaveProperty(name);
      expect("PUBLIC_BASE_URL" in vars).toBe(true);
      expect(config.durable_objects.bindings.map((binding: { name: string }) => binding.name).sort()).toEqual([
        "JOBS",
        "KEYS",
        "QUEUE_LEDGER",
        "TENANTS",
      ]);
      // Migrations are inherited from the top level (bindings are not): the environment has the same history.
      expect(config.migrations).toEqual(development.migrations);
      expect(config.ratelimits?.map((binding: { name: string }) => binding.name).sort()).toEqual([
        "AUTH_FAILURE_LIMITER",
        "RATE_LIMITER",
      ]);
    });
  }
});
