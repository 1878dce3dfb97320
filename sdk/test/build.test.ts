/**
 * The publishable package (`npm run -w sdk build`, scripts/build.ts) as a consumer gets it: built into a
 * temporary directory, packed with `npm pack`, unpacked into a bare node_modules that has only the declared
 * dependencies (no @bd3-serve/shared, no tsx), then imported by plain Node, type-checked by a strict consumer
 * without Node's types, and its `bd3` bin run.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { WebhookEvent } from "@bd3-serve/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook, tenantWebhookSecret } from "../../edge/src/webhooks/signing.ts";
import { exampleJobView } from "../../shared/src/testing/examples.ts";
import { buildSdk } from "../scripts/build.ts";

const run = promisify(execFile);
const REPO = join(import.meta.dirname, "../..");
const TSC = join(REPO, "node_modules/typescript/bin/tsc");
/** A child without the test runner's loaders: plain Node. */
const PLAIN_ENV = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };

interface PackResult {
  filename: string;
  files: { path: string }[];
}

let work: string;
let consumer: string;
let packed: PackResult;
let manifest: { private?: boolean; dependencies: Record<string, string>; bin: Record<string, string> };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "bd3-sdk-build-"));
  const dist = join(work, "dist");
  await buildSdk(dist);
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: dist });
  const results = JSON.parse(stdout.slice(stdout.indexOf("["))) as PackResult[];
  packed = results[0]!;

  consumer = join(work, "consumer");
  const installed = join(consumer, "node_modules/@bd3-serve/sdk");
  mkdirSync(installed, { recursive: true });
  await run("tar", ["-xzf", join(work, packed.filename), "-C", installed, "--strip-components=1"]);
  manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  // The declared dependencies only, linked from the repo's node_modules.
  for (const name of Object.keys(manifest.dependencies))
    symlinkSync(join(REPO, "node_modules", name), join(consumer, "node_modules", name), "dir");
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
}, 120_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the built package", () => {
  it("packs index.js, index.d.ts, cli.js and a manifest that a consumer can install", () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(["index.js", "index.d.ts", "cli.js", "package.json", "README.md"]));
    expect(paths.some((path) => path.startsWith("types/sdk/src/") && path.endsWith(".d.ts"))).toBe(true);
    expect(paths.every((path) => !path.endsWith(".ts") || path.endsWith(".d.ts"))).toBe(true);
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["cli-progress", "commander", "zod"]);
    expect(manifest.bin).toEqual({ bd3: "./cli.js" });
  });

  it("runs in plain Node: a client whose answers are validated, typed errors, and verifyWebhook", async () => {
    const at = new Date("2026-11-28T10:00:00.000Z");
    const event: WebhookEvent = {
      type: "generation.completed",
      timestamp: at.toISOString(),
      data: { ...exampleJobView, status: "succeeded", finish_reason: "eos" },
    };
    const payload = JSON.stringify(event);
    const secret = await tenantWebhookSecret("test-master-signing-secret", "tenant_a", 1);
    const headers = signWebhook([secret], "msg_1", payload, at);
    const script = `
      import { Bd3Client, NotFoundError, verifyWebhook, WebhookVerificationError } from "@bd3-serve/sdk";
      const { payload, headers, secret, at, view } = JSON.parse(process.env.INPUT);
      const answers = [
        Response.json(view),
        Response.json({ error: { type: "not_found_error", message: "no such generation" } }, { status: 404 }),
      ];
      const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k", fetch: async () => answers.shift() });
      const got = await client.get(view.id);
      const missing = await client.get("gen_missing").catch((error) => error);
      const verified = await verifyWebhook({ payload, headers, secret, now: new Date(at) });
      const tampered = await verifyWebhook({ payload: payload + " ", headers, secret, now: new Date(at) }).catch((e) => e);
      console.log(JSON.stringify({
        got: got.id,
        notFound: missing instanceof NotFoundError && missing.status === 404,
        verified,
        tampered: tampered instanceof WebhookVerificationError ? tampered.code : String(tampered),
      }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: consumer,
      env: {
        ...PLAIN_ENV,
        INPUT: JSON.stringify({ payload, headers, secret, at: at.toISOString(), view: exampleJobView }),
      },
    });
    expect(JSON.parse(stdout)).toEqual({
      got: exampleJobView.id,
      notFound: true,
      verified: event,
      tampered: "no_matching_signature",
    });
  });

  it("type-checks in a strict consumer without Node's types, with no path into the workspace", async () => {
    writeFileSync(
      join(consumer, "consumer.ts"),
      `import { Bd3Client, type JobStatus, NotFoundError, verifyWebhook, type WebhookEvent } from "@bd3-serve/sdk";

const client = new Bd3Client({ baseUrl: "https://api.example.com", apiKey: "k" });
export async function statusOf(id: string): Promise<JobStatus> {
  return (await client.get(id)).status;
}
export async function hook(payload: string, headers: Headers): Promise<WebhookEvent["type"]> {
  return (await verifyWebhook({ payload, headers, secret: "whsec_c2VjcmV0" })).type;
}
export const isNotFound = (error: unknown): boolean => error instanceof NotFoundError && error.status === 404;
// @ts-expect-error: max_tokens is a number (the types are real, not any)
void client.createGeneration({ prompt: "x", max_tokens: "many" });
`,
    );
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          types: [],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    const result = await run(process.execPath, [TSC, "-p", consumer, "--listFilesOnly"], { cwd: consumer });
    const files = result.stdout.split("\n").filter((line) => line.includes("@bd3-serve/sdk"));
    expect(files).toContain(join(consumer, "node_modules/@bd3-serve/sdk/index.d.ts"));
    expect(files.every((file) => file.startsWith(join(consumer, "node_modules/@bd3-serve/sdk/")))).toBe(true);
    await expect(run(process.execPath, [TSC, "-p", consumer], { cwd: consumer })).resolves.toMatchObject({
      stdout: "",
    });
  }, 60_000);

  it("has a bd3 bin that plain Node runs", async () => {
    const { stdout } = await run(process.execPath, [join(consumer, "node_modules/@bd3-serve/sdk/cli.js"), "--help"], {
      cwd: consumer,
      env: PLAIN_ENV,
    });
    expect(stdout).toMatch(/^Usage: bd3 /);
    expect(stdout).toContain("generate [options] <prompt>");
  });
});
