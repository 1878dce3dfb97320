/**
 * The logger's second guard: a credential that reaches a log object prints "[Redacted]", at the places a log
 * object here could carry one (a field, a nested message, headers of a request or an error, the parsed
 * settings, a queue message's body logged as text).
 */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.ts";
import { accessHeaders } from "../../src/runtime/edge/access.ts";
import { createLogger, REDACTED, redactBodyText } from "../../src/runtime/observability/logger.ts";
import { FAKE_WORKER_ENV } from "./runner-env.ts";

const CAPABILITY = "v2.1900000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const TOKEN = { clientId: "access-client-id.access", clientSecret: "access-client-secret-0123456789" };

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    workerId: "w-redact",
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...chunk
            .toString("utf8")
            .split("\n")
            .filter((line) => line !== ""),
        );
        done();
      },
    }),
  });
  return { logger, lines, last: () => JSON.parse(lines.at(-1) ?? "{}") as Record<string, unknown> };
}

describe("log redaction", () => {
  it("redacts a capability field, at the top and inside a logged message", () => {
    const { logger, last } = capture();
    logger.info({ capability: CAPABILITY, job_id: "job_1" }, "top level");
    expect(last()).toMatchObject({ capability: REDACTED, job_id: "job_1" });
    logger.info({ message: { job_id: "job_1", capability: CAPABILITY } }, "nested");
    expect(last()).toMatchObject({ message: { job_id: "job_1", capability: REDACTED } });
    logger.child({ capability: CAPABILITY }).info("from a child's bindings");
    expect(last()).toMatchObject({ capability: REDACTED });
  });

  it("redacts Authorization and the Cloudflare Access headers, as sent and as a Headers object lists them", () => {
    const { logger, lines, last } = capture();
    const sent = { authorization: `Bearer ${CAPABILITY}`, ...accessHeaders(TOKEN) };
    logger.info({ headers: sent }, "request headers");
    expect(last()).toMatchObject({
      headers: { authorization: REDACTED, "CF-Access-Client-Id": REDACTED, "CF-Access-Client-Secret": REDACTED },
    });
    const listed = Object.fromEntries(new Headers(sent).entries());
    logger.info({ request: { url: "http://edge/internal", headers: listed } }, "a request");
    expect(last()).toMatchObject({
      request: {
        url: "http://edge/internal",
        headers: { authorization: REDACTED, "cf-access-client-id": REDACTED, "cf-access-client-secret": REDACTED },
      },
    });
    const error = Object.assign(new Error("edge unreachable"), { headers: listed });
    logger.warn({ err: error }, "an error carrying its request's headers");
    expect(last()).toMatchObject({ err: { message: "edge unreachable", headers: { authorization: REDACTED } } });
    for (const line of lines) {
      expect(line).not.toContain(CAPABILITY);
      expect(line).not.toContain(TOKEN.clientSecret);
    }
  });

  it("redacts the settings: the environment's and the parsed config's", () => {
    const { logger, lines, last } = capture();
    const env = {
      ...FAKE_WORKER_ENV,
      CF_ACCESS_CLIENT_ID: TOKEN.clientId,
      CF_ACCESS_CLIENT_SECRET: TOKEN.clientSecret,
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "aws-secret-0123456789",
    };
    logger.info(env, "the environment, spread");
    expect(last()).toMatchObject({ CF_ACCESS_CLIENT_SECRET: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED });
    logger.info({ env }, "the environment, nested");
    expect(last()).toMatchObject({ env: { CF_ACCESS_CLIENT_SECRET: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED } });
    const config = loadConfig({ env, envFile: null });
    logger.info({ config }, "the parsed config");
    expect(last()).toMatchObject({
      config: {
        edge: { accessServiceToken: { clientSecret: REDACTED } },
        queue: { credentials: { secretAccessKey: REDACTED } },
      },
    });
    logger.info({ edge: config.edge, queue: config.queue }, "config groups");
    expect(last()).toMatchObject({
      edge: { accessServiceToken: { clientSecret: REDACTED } },
      queue: { credentials: { secretAccessKey: REDACTED } },
    });
    for (const line of lines) {
      expect(line).not.toContain(TOKEN.clientSecret);
      expect(line).not.toContain("aws-secret-0123456789");
    }
  });

  it("cuts the capability out of a message body logged as text, whole or cut off", () => {
    const { logger, lines, last } = capture();
    const body = JSON.stringify({ version: 1, job_id: "job_1", capability: CAPABILITY, model: "m" });
    logger.warn({ receive_count: 5, body }, "dead-lettered job");
    const logged = last();
    expect(logged.body).toBe(JSON.stringify({ version: 1, job_id: "job_1", capability: REDACTED, model: "m" }));
    logger.error({ body: body.slice(0, body.indexOf(CAPABILITY) + 10) }, "a cut-off body");
    expect(last().body).toBe(`{"version":1,"job_id":"job_1","capability":"${REDACTED}"`);
    for (const line of lines) expect(line).not.toContain(CAPABILITY.slice(0, 20));
    expect(redactBodyText('{"capability" : "x", "other":"y"}')).toBe(`{"capability" : "${REDACTED}", "other":"y"}`);
  });

  it("leaves everything else as it was", () => {
    const { logger, last } = capture();
    logger.info({ job_id: "job_1", blocks: 3, body: "plain text", headers: { "content-type": "text/plain" } }, "ok");
    expect(last()).toMatchObject({
      worker_id: "w-redact",
      job_id: "job_1",
      blocks: 3,
      body: "plain text",
      headers: { "content-type": "text/plain" },
      msg: "ok",
    });
  });
});
