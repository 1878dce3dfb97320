/**
 * Issue 21, items 5 and 6 on the real stack: links come from PUBLIC_BASE_URL (the local stack sets it to the
 * edge's address), never from the caller's Host; failed authentications are limited per client address.
 */
import { request } from "node:http";
import { beforeEach, describe, expect, it } from "vitest";
import { API_KEY, getJob, purgeQueues, stackAddresses } from "../support/stack.ts";

beforeEach(purgeQueues);

/** A raw HTTP request (fetch does not let a caller choose Host). */
function rawRequest(path: string, headers: Record<string, string>, body?: string) {
  const target = new URL(stackAddresses().edgeUrl);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, path, method: body === undefined ? "GET" : "POST", headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    },
  );
}

describe("links and limits", () => {
  it("never builds a link from the caller's Host", async () => {
    const created = await rawRequest(
      "/v1/generations",
      { Host: "evil.example", Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
      JSON.stringify({ prompt: "In the beginning", max_tokens: 16 }),
    );
    expect(created.status).toBe(202);
    const view = JSON.parse(created.body) as { id: string };
    const { edgeUrl } = stackAddresses();
    expect(created.headers.location).toBe(`${edgeUrl}/v1/generations/${view.id}`);
    expect(created.body).not.toContain("evil.example");
    expect(JSON.stringify(await getJob(view.id))).not.toContain("evil.example");
  });

  it("answers 429 with Retry-After to an address that keeps failing authentication", async () => {
    const address = `198.51.100.${Math.floor(Math.random() * 200) + 1}`;
    const statuses: number[] = [];
    let retryAfter: string | string[] | undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      const reply = await rawRequest("/v1/generations", {
        Authorization: "Bearer bd3_wrong_0000000000000000000000000000",
        "CF-Connecting-IP": address,
      });
      statuses.push(reply.status);
      if (reply.status === 429) retryAfter ??= reply.headers["retry-after"];
    }
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(30);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Only that address is limited: a caller from another address (the tests' own) is served.
    const other = await rawRequest("/v1/generations?limit=1", { Authorization: `Bearer ${API_KEY}` });
    expect(other.status).toBe(200);
  });
});
