/**
 * Issue 21, item 4 on the real stack: webhook URLs that reach private space through an IPv6 spelling of an
 * IPv4 address or an odd host are refused at create (400 naming `webhook.url`), and no job is created.
 */
import { describe, expect, it } from "vitest";
import { API_KEY, stackAddresses } from "../support/stack.ts";

const BYPASSES = [
  "https://[::ffff:0:7f00:1]/hook", // IPv4-translated 127.0.0.1
  "https://[::ffff:0:a9fe:a9fe]/hook", // IPv4-translated 169.254.169.254 (cloud metadata)
  "https://[::127.0.0.1]/hook", // IPv4-compatible
  "https://[64:ff9b::a9fe:a9fe]/hook", // NAT64 of the metadata address
  "https://[2002:a9fe:a9fe::]/hook", // 6to4 of the metadata address
  "https://metadata.google.internal../hook", // two trailing dots
  "https://0251.0376.0251.0376/hook", // octal 169.254.169.254
];

interface ReplyBody {
  error?: { type: string; param?: string };
  data: { id: string }[];
}

async function api(path: string, init: RequestInit = {}) {
  const response = await fetch(`${stackAddresses().edgeUrl}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
  });
  return { status: response.status, body: (await response.json()) as ReplyBody };
}

describe("webhook URL guard", () => {
  it.each(BYPASSES)("refuses %s at create and creates nothing", async (url) => {
    const before = await api("/v1/generations?limit=1");
    const created = await api("/v1/generations", {
      method: "POST",
      body: JSON.stringify({ prompt: "In the beginning", max_tokens: 16, webhook: { url } }),
    });
    expect(created.status).toBe(400);
    expect(created.body.error).toMatchObject({ type: "invalid_request_error", param: "webhook.url" });
    const after = await api("/v1/generations?limit=1");
    expect(after.body.data[0]?.id).toBe(before.body.data[0]?.id);
  });
});
