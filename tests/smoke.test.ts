/**
 * `npm run smoke` (scripts/smoke.ts) against the real local stack: the edge in Miniflare, fauxqs, and a worker
 * with the real engine in this process. The script runs as an operator runs it (a child process with its
 * own webhook receiver on 127.0.0.1, which the development edge allows: WEBHOOK_DEV_ALLOWED_HOSTS), and its
 * exit code and PASS/FAIL lines are what is checked.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useStackFixture } from "./support/hooks.ts";
import { API_KEY, MODEL_NAME, REPO_ROOT, stackAddresses, waitForEmptyQueues } from "./support/stack.ts";

const fixture = useStackFixture({ slowEdge: false });

function runSmoke(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts/smoke.ts"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => resolve({ code, output }));
  });
}

async function tenantWebhookSecret(): Promise<string> {
  const response = await fetch(`${stackAddresses().edgeUrl}/v1/webhook-secret`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { secret: string }).secret;
}

describe("npm run smoke", () => {
  it("passes on a working stack: create, SSE stream, GET's text, signed webhook", async () => {
    await fixture.startInProcessWorker();
    const secret = await tenantWebhookSecret();
    expect(secret).toMatch(/^whsec_/);
    const { code, output } = await runSmoke([
      "--url",
      stackAddresses().edgeUrl,
      "--key",
      API_KEY,
      "--model",
      MODEL_NAME,
      "--webhook-secret",
      secret,
      "--receiver-port",
      "0",
      "--timeout-seconds",
      "60",
    ]);
    expect(output).toMatch(/^SMOKE PASS: 5 checks/m);
    for (const name of ["healthz", "create", "stream", "text", "webhook"]) expect(output).toMatch(`PASS ${name}`);
    expect(output).not.toContain("FAIL");
    expect(code).toBe(0);
    await waitForEmptyQueues();
  });

  it("fails (exit 1) when the webhook cannot be verified with the secret it was given", async () => {
    await fixture.startInProcessWorker();
    const { code, output } = await runSmoke([
      "--url",
      stackAddresses().edgeUrl,
      "--key",
      API_KEY,
      "--model",
      MODEL_NAME,
      "--webhook-secret",
      `whsec_${Buffer.from("not the tenant's secret at all").toString("base64")}`,
      "--receiver-port",
      "0",
      "--timeout-seconds",
      "60",
    ]);
    expect(output).toMatch(/^FAIL webhook +signature does not verify/m);
    expect(output).toMatch(/^SMOKE FAIL: 4 checks passed/m);
    expect(code).toBe(1);
    await waitForEmptyQueues();
  });

  it("fails (exit 1) at create with a key the edge does not know, and exits 2 on bad options", async () => {
    const refused = await runSmoke([
      "--url",
      stackAddresses().edgeUrl,
      "--key",
      "bd3_not_a_key",
      "--timeout-seconds",
      "30",
    ]);
    expect(refused.output).toMatch(/^PASS healthz/m);
    expect(refused.output).toMatch(/^FAIL create +create answered 401/m);
    expect(refused.code).toBe(1);
    const usage = await runSmoke(["--key", API_KEY, "--receiver-port", "0"]);
    expect(usage.output).toContain("--url <https://...> is required");
    expect(usage.output).toContain("--webhook-secret and --receiver-port go together");
    expect(usage.code).toBe(2);
  });
});
