/**
 * A scripted fetch for unit tests: each call takes the next handler of the script (or the last one
 * repeated when `repeatLast`), and every request is recorded (method, URL, headers, body).
 */
import type { JobView } from "@bd3-serve/shared";
import { exampleJobView } from "../../shared/src/testing/examples.ts";
import type { FetchLike } from "../src/http/transport.ts";

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

export type Handler = (request: RecordedRequest) => Response | Promise<Response>;

export function fakeFetch(script: Handler[], options: { repeatLast?: boolean } = {}) {
  const requests: RecordedRequest[] = [];
  const fetch: FetchLike = async (input, init) => {
    const request: RecordedRequest = {
      method: init.method ?? "GET",
      url: new URL(input),
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : undefined,
      signal: init.signal ?? undefined,
    };
    requests.push(request);
    const handler = script[requests.length - 1] ?? (options.repeatLast ? script.at(-1) : undefined);
    if (handler === undefined) throw new Error(`unexpected request ${requests.length}: ${request.method} ${input}`);
    return handler(request);
  };
  return { fetch, requests };
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function apiError(
  status: number,
  type: string,
  message: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return json({ error: { type, message, ...extra } }, status, headers);
}

export function jobView(overrides: Partial<JobView> = {}): JobView {
  return { ...exampleJobView, ...overrides };
}

/** A job summary (the view without its text), as the list and the `done` event carry. */
export function jobSummary(overrides: Partial<JobView> = {}): Omit<JobView, "text"> {
  const { text: _text, ...summary } = jobView(overrides);
  return summary;
}

/** A network failure as undici reports it. */
export function networkError(): never {
  throw new TypeError("fetch failed", { cause: new Error("ECONNRESET") });
}

export const noSleep = async () => {};
