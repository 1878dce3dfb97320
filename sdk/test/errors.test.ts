import { describe, expect, it } from "vitest";
import { Bd3Client } from "../src/client.ts";
import {
  ApiError,
  AuthenticationError,
  Bd3Error,
  GoneError,
  IdempotencyError,
  InternalServerError,
  InvalidRequestError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitError,
  ResponseValidationError,
} from "../src/errors.ts";
import { apiErrorFrom } from "../src/http/error-mapping.ts";
import { apiError, fakeFetch, jobView, json } from "./fake-fetch.ts";

const body = (type: string, extra: Record<string, string> = {}) =>
  JSON.stringify({ error: { type, message: `a ${type}`, ...extra } });

describe("apiErrorFrom", () => {
  it("picks the class from the error type and keeps type, code, param, status", () => {
    const error = apiErrorFrom(410, new Headers(), body("gone_error", { code: "retention_expired", param: "id" }));
    expect(error).toBeInstanceOf(GoneError);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toBeInstanceOf(Bd3Error);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "GoneError",
      status: 410,
      type: "gone_error",
      code: "retention_expired",
      param: "id",
      message: "a gone_error",
      requestId: null,
    });
    expect(apiErrorFrom(422, new Headers(), body("idempotency_error", { param: "Idempotency-Key" }))).toBeInstanceOf(
      IdempotencyError,
    );
    expect(apiErrorFrom(401, new Headers(), body("authentication_error"))).toBeInstanceOf(AuthenticationError);
  });

  it("reads the request id from x-request-id, else cf-ray, else null", () => {
    const error = (headers: Record<string, string>) => apiErrorFrom(404, new Headers(headers), body("not_found_error"));
    expect(error({ "x-request-id": "req_1", "cf-ray": "8f00-AMS" }).requestId).toBe("req_1");
    expect(error({ "cf-ray": "8f00-AMS" }).requestId).toBe("8f00-AMS");
    expect(error({}).requestId).toBeNull();
  });

  it("classes an answer that is not the API's error body by its status", () => {
    const proxyPage = apiErrorFrom(502, new Headers(), "<html>Bad gateway</html>");
    expect(proxyPage).toBeInstanceOf(InternalServerError);
    expect(proxyPage).toMatchObject({ type: "api_error", status: 502, code: null, param: null });
    expect(proxyPage.message).toBe("HTTP 502: <html>Bad gateway</html>");
    expect(apiErrorFrom(413, new Headers(), "")).toBeInstanceOf(PayloadTooLargeError);
    expect(apiErrorFrom(429, new Headers({ "retry-after": "9" }), "").retryAfterSeconds).toBe(9);
    expect(apiErrorFrom(418, new Headers(), "").type).toBe("invalid_request_error");
    // A body of an unknown type is not trusted either.
    expect(apiErrorFrom(400, new Headers(), body("teapot_error"))).toBeInstanceOf(InvalidRequestError);
  });
});

describe("the client's errors", () => {
  const client = (script: Parameters<typeof fakeFetch>[0]) =>
    new Bd3Client({ baseUrl: "https://x.test", apiKey: "k", fetch: fakeFetch(script).fetch, maxRetries: 0 });

  it("throws the mapped ApiError with the request id of the answer", async () => {
    const error = await client([
      () =>
        apiError(404, "not_found_error", "no generation with id 'nope'", { param: "id" }, { "x-request-id": "r-9" }),
    ])
      .get("nope")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, param: "id", requestId: "r-9" });
  });

  it("refuses an answer that does not match the schema, with the zod error as cause", async () => {
    const error = await client([() => json({ ...jobView(), status: "paused" }, 200, { "cf-ray": "ray-1" })])
      .get("gen_01HZX")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ResponseValidationError);
    expect(error).toMatchObject({ status: 200, requestId: "ray-1" });
    expect((error as Error).message).toContain("status");
    expect((error as Error).cause).toBeDefined();
  });

  it("refuses a 2xx that is not JSON", async () => {
    await expect(client([() => new Response("ok", { status: 200 })]).get("gen_01HZX")).rejects.toBeInstanceOf(
      ResponseValidationError,
    );
  });

  it("maps a rate limit with its Retry-After", async () => {
    const error = await client([() => apiError(429, "rate_limit_error", "slow", {}, { "retry-after": "3" })])
      .cancel("gen_01HZX")
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterSeconds).toBe(3);
  });
});
