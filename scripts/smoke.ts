/**
 * `npm run smoke -- --url https://api.example.com --key bd3_... [--webhook-secret whsec_... --receiver-port N]`:
 * a deployment's first job, end to end. Checks, in order (the first failure stops the run):
 *
 *   healthz    GET /healthz answers 200 (the edge's configuration is complete; 503 names what is missing)
 *   create     POST /v1/generations, max_tokens 32 (with a webhook to the local receiver when asked)
 *   stream     GET /v1/generations/:id/stream (SSE): `block` events with indices 0..n-1, then `done` with a
 *              succeeded job; reconnects with Last-Event-ID when the edge closes a connection at the tail
 *   text       GET /v1/generations/:id: succeeded, its text = the streamed blocks' text, <= 32 tokens
 *   webhook    (with --webhook-secret and --receiver-port) the `generation.completed` delivery arrives at a
 *              local HTTP receiver, its Standard Webhooks signature verifies (`standardwebhooks`) with the
 *              tenant's secret (GET /v1/webhook-secret), and its text equals GET's
 *
 * The receiver listens on --receiver-host (127.0.0.1) : --receiver-port (0: any free port) and the job's
 * webhook URL is `http://<host>:<port>/hook`, which only a development edge accepts (WEBHOOK_DEV_ALLOWED_HOSTS).
 * A deployed edge needs an https URL that reaches the receiver (a tunnel): pass it as --receiver-url.
 *
 * Prints one PASS/FAIL line per check and a summary; exit 0 when every check passed, 1 when one failed, 2 for
 * bad options. --timeout-seconds (900) bounds the whole run: from a fleet scaled to zero the first job waits
 * for a GPU instance, the image pull and the model load.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { sseEvents } from "./sse-events.ts";

export const SMOKE_MAX_TOKENS = 32;
const TIMEOUT_SECONDS_DEFAULT = 900;
const PROMPT_DEFAULT = "In the beginning God created the heaven and the earth.";
/** Stream connections tried before giving up (the edge closes a tail connection after about a minute). */
const STREAM_CONNECTIONS_MAX = 60;

export interface SmokeOptions {
  url: string;
  key: string;
  model: string | undefined;
  prompt: string;
  timeoutMs: number;
  webhookSecret: string | undefined;
  receiverPort: number | undefined;
  receiverHost: string;
  receiverUrl: string | undefined;
}

interface Block {
  index: number;
  text: string;
  token_count: number;
}
interface JobView {
  id: string;
  status: string;
  text: string | null;
  progress: { blocks: number };
  usage: { completion_tokens: number } | null;
  error: { code: string; message: string } | null;
  urls: { stream: string };
}
interface Delivery {
  headers: Record<string, string>;
  body: string;
}

class CheckFailed extends Error {}

function fail(message: string): never {
  throw new CheckFailed(message);
}

/** A local HTTP receiver that records every delivery (headers and exact body) and answers 204. */
async function startReceiver(host: string, port: number) {
  const deliveries: Delivery[] = [];
  let notify = () => {};
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        headers[name] = Array.isArray(value) ? value.join(",") : (value ?? "");
      }
      deliveries.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
      notify();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/hook`,
    async next(match: (delivery: Delivery) => boolean, signal: AbortSignal): Promise<Delivery> {
      for (;;) {
        const found = deliveries.find(match);
        if (found !== undefined) return found;
        if (signal.aborted) fail(`no matching delivery before the deadline (${deliveries.length} received)`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 250);
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function runSmoke(options: SmokeOptions, print: (line: string) => void): Promise<boolean> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const base = options.url.replace(/\/+$/, "");
  const headers = { authorization: `Bearer ${options.key}`, "content-type": "application/json" };
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(new URL(path, `${base}/`), { ...init, headers, signal: deadline });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: response.status, body: body as T };
  };
  const startedAt = performance.now();
  const elapsed = () => `${((performance.now() - startedAt) / 1_000).toFixed(1)} s`;
  let passed = 0;
  const check = async <T>(name: string, run: () => Promise<[T, string]>): Promise<T> => {
    try {
      const [value, detail] = await run();
      passed++;
      print(`PASS ${name.padEnd(8)} ${detail} (${elapsed()})`);
      return value;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      print(
        `FAIL ${name.padEnd(8)} ${deadline.aborted ? `deadline of ${options.timeoutMs / 1_000} s passed: ` : ""}${message}`,
      );
      throw new CheckFailed(name);
    }
  };

  const withWebhook = options.webhookSecret !== undefined && options.receiverPort !== undefined;
  const receiver = withWebhook ? await startReceiver(options.receiverHost, options.receiverPort!) : undefined;
  try {
    await check("healthz", async () => {
      const { status, body } = await api<unknown>("/healthz");
      if (status !== 200) fail(`/healthz answered ${status}: ${JSON.stringify(body).slice(0, 500)}`);
      return [undefined, "/healthz 200"];
    });
    const webhookUrl = options.receiverUrl ?? receiver?.url;
    const created = await check("create", async () => {
      const request = {
        ...(options.model !== undefined ? { model: options.model } : {}),
        prompt: options.prompt,
        max_tokens: SMOKE_MAX_TOKENS,
        ...(receiver !== undefined ? { webhook: { url: webhookUrl, events: ["generation.completed"] } } : {}),
      };
      const { status, body } = await api<JobView>("/v1/generations", { method: "POST", body: JSON.stringify(request) });
      if (status !== 202 && status !== 200) fail(`create answered ${status}: ${JSON.stringify(body).slice(0, 500)}`);
      return [body, `job ${body.id} ${body.status}${receiver !== undefined ? `, webhook ${webhookUrl}` : ""}`];
    });

    const blocks = await check("stream", async () => {
      const streamed: Block[] = [];
      let lastEventId: string | undefined;
      let summary: { status?: string } | undefined;
      for (let connection = 0; summary === undefined; connection++) {
        if (connection >= STREAM_CONNECTIONS_MAX) fail(`no done event after ${connection} connections`);
        const response = await fetch(new URL(created.urls.stream, `${base}/`), {
          headers: {
            authorization: headers.authorization,
            accept: "text/event-stream",
            ...(lastEventId !== undefined ? { "last-event-id": lastEventId } : {}),
          },
          signal: deadline,
        });
        if (response.status !== 200 || response.body === null) fail(`stream answered ${response.status}`);
        for await (const event of sseEvents(response.body)) {
          if (event.event === "block") {
            const block = JSON.parse(event.data) as Block;
            if (block.index !== streamed.length) fail(`block ${block.index} arrived where ${streamed.length} was due`);
            streamed.push(block);
            lastEventId = event.id ?? String(block.index);
          } else if (event.event === "done") {
            summary = JSON.parse(event.data) as { status?: string };
            break;
          }
        }
      }
      if (summary.status !== "succeeded") fail(`done says ${summary.status}: ${JSON.stringify(summary).slice(0, 500)}`);
      return [streamed, `${streamed.length} blocks, done: succeeded`];
    });

    const view = await check("text", async () => {
      const { status, body } = await api<JobView>(`/v1/generations/${created.id}`);
      if (status !== 200) fail(`GET answered ${status}`);
      if (body.status !== "succeeded") fail(`status ${body.status} ${JSON.stringify(body.error)}`);
      const streamedText = blocks.map((block) => block.text).join("");
      if (body.text !== streamedText) {
        fail(
          `GET's text (${JSON.stringify(body.text)}) differs from the streamed text (${JSON.stringify(streamedText)})`,
        );
      }
      const tokens = body.usage?.completion_tokens ?? Number.NaN;
      if (!(tokens <= SMOKE_MAX_TOKENS)) fail(`completion_tokens ${tokens} for max_tokens ${SMOKE_MAX_TOKENS}`);
      return [
        body,
        `${body.progress.blocks} blocks, ${tokens} tokens, ${streamedText.length} chars, equal to the stream`,
      ];
    });

    if (receiver !== undefined) {
      await check("webhook", async () => {
        const delivery = await receiver.next((received) => received.body.includes(created.id), deadline);
        let event: { type?: string; data?: { id?: string; text?: string | null } };
        try {
          event = new Webhook(options.webhookSecret!).verify(delivery.body, delivery.headers) as typeof event;
        } catch (error) {
          fail(`signature does not verify: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (event.type !== "generation.completed" || event.data?.id !== created.id) {
          fail(`unexpected event ${event.type} for ${event.data?.id}`);
        }
        if (event.data.text !== view.text) fail("the webhook's text differs from GET's");
        return [undefined, `generation.completed signed (${delivery.headers["webhook-id"]}), text equal`];
      });
    }
    print(`SMOKE PASS: ${passed} checks in ${elapsed()} (job ${created.id})`);
    return true;
  } catch (error) {
    if (!(error instanceof CheckFailed)) throw error;
    print(`SMOKE FAIL: ${passed} checks passed, then "${error.message}" failed (${elapsed()})`);
    return false;
  } finally {
    await receiver?.close();
  }
}

export function parseSmokeOptions(args: string[]): SmokeOptions {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      model: { type: "string" },
      prompt: { type: "string", default: PROMPT_DEFAULT },
      "timeout-seconds": { type: "string", default: String(TIMEOUT_SECONDS_DEFAULT) },
      "webhook-secret": { type: "string" },
      "receiver-port": { type: "string" },
      "receiver-host": { type: "string", default: "127.0.0.1" },
      "receiver-url": { type: "string" },
    },
  });
  const problems: string[] = [];
  if (!values.url || !/^https?:\/\//.test(values.url)) problems.push("--url <https://...> is required");
  if (!values.key) problems.push("--key <bd3_...> is required");
  const timeoutSeconds = Number(values["timeout-seconds"]);
  if (!(timeoutSeconds > 0)) problems.push("--timeout-seconds must be a positive number");
  const port = values["receiver-port"] === undefined ? undefined : Number(values["receiver-port"]);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    problems.push("--receiver-port must be a port number (0: any free port)");
  }
  if ((values["webhook-secret"] === undefined) !== (port === undefined)) {
    problems.push("--webhook-secret and --receiver-port go together");
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return {
    url: values.url!,
    key: values.key!,
    model: values.model,
    prompt: values.prompt,
    timeoutMs: timeoutSeconds * 1_000,
    webhookSecret: values["webhook-secret"],
    receiverPort: port,
    receiverHost: values["receiver-host"],
    receiverUrl: values["receiver-url"],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let options: SmokeOptions;
  try {
    options = parseSmokeOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.stderr.write(
      "usage: npm run smoke -- --url https://... --key bd3_... [--webhook-secret whsec_... --receiver-port N]\n",
    );
    process.exit(2);
  }
  const isPass = await runSmoke(options, (line) => process.stdout.write(`${line}\n`));
  process.exit(isPass ? 0 : 1);
}
