import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/worker.ts";
import { ORIGIN } from "./helpers/api.ts";

function devStreams(path: string, init: RequestInit = {}, bindings: object = env) {
  return worker.fetch(
    new Request(`${ORIGIN}/dev/streams${path}`, init),
    bindings as typeof env,
    createExecutionContext(),
  );
}

describe("/dev/streams (the generic protocol, development only)", () => {
  it("creates, appends to and reads a stream with the protocol's headers", async () => {
    const path = `/v1/stream/smoke-${crypto.randomUUID()}`;
    const created = await devStreams(path, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "a" });
    expect(created.status).toBe(201);
    expect(created.headers.get("Location")).toBe(`${ORIGIN}/dev/streams${path}`);
    expect(
      (await devStreams(path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "b" })).status,
    ).toBe(204);
    const read = await devStreams(`${path}?offset=-1`);
    expect(await read.text()).toBe("ab");
    expect(read.headers.get("Stream-Up-To-Date")).toBe("true");
    expect(read.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("does not exist outside development", async () => {
    const production = { ...env, ENVIRONMENT: "production" };
    const response = await devStreams("/v1/stream/anything", { method: "PUT" }, production);
    expect(response.status).toBe(404);
    const withoutBinding = { ...env, DEV_STREAMS: undefined };
    expect((await devStreams("/v1/stream/anything", {}, withoutBinding)).status).toBe(404);
  });

  it("keeps the protocol's reserved __ds paths unserved", async () => {
    expect((await devStreams("/__ds/subscriptions/x", { method: "PUT" })).status).toBe(404);
  });
});
