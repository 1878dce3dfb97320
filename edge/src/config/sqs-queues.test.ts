import { describe, expect, it } from "vitest";
import type { Env } from "../env.ts";
import type { ServedModel } from "../models/served-models.ts";
import { parseSqs, queueUrlFor } from "./sqs-queues.ts";

const BASE = {
  SQS_ENDPOINT: "http://127.0.0.1:4566",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
};
const Q = (name: string) => `http://sqs.us-east-1.localhost:4566/000000000000/${name}`;
const served = (...names: string[]): ServedModel[] =>
  names.map((name) => ({ name, blockSizeTokens: 4, contextLengthTokens: null }));

function parse(vars: Partial<Env>, models: ServedModel[] = served("a"), defaultModel = "a") {
  const problems: string[] = [];
  const sqs = parseSqs({ ...BASE, ...vars } as Env, models, defaultModel, problems);
  return { sqs, problems };
}

describe("SQS_QUEUES and SQS_QUEUE_URL", () => {
  it("reads the single SQS_QUEUE_URL of older edges as the default model's queue for every priority", () => {
    const { sqs, problems } = parse({ SQS_QUEUE_URL: Q("jobs") });
    expect(problems).toEqual([]);
    expect([0, 1, 2].map((priority) => queueUrlFor(sqs!, "a", priority))).toEqual([Q("jobs"), Q("jobs"), Q("jobs")]);
  });

  it("routes each (model, priority) to its queue; a missing low or high priority uses the model's normal queue", () => {
    const SQS_QUEUES = JSON.stringify({ a: { 0: Q("a-low"), 1: Q("a"), 2: Q("a-high") }, b: { 1: Q("b") } });
    const { sqs, problems } = parse({ SQS_QUEUES, SQS_QUEUE_URL: Q("a") }, served("a", "b"));
    expect(problems).toEqual([]);
    expect([0, 1, 2].map((priority) => queueUrlFor(sqs!, "a", priority))).toEqual([Q("a-low"), Q("a"), Q("a-high")]);
    expect([0, 1, 2].map((priority) => queueUrlFor(sqs!, "b", priority))).toEqual([Q("b"), Q("b"), Q("b")]);
    expect(queueUrlFor(sqs!, "not-served", 1)).toBeNull();
  });

  it("names SQS_QUEUES when a served model has no queue", () => {
    const { problems } = parse({ SQS_QUEUE_URL: Q("a") }, served("a", "b", "c"));
    expect(problems).toEqual(["SQS_QUEUES has no queue for the served model(s) b, c"]);
  });

  it.each([
    ["not JSON", "{", "SQS_QUEUES is not valid JSON"],
    ["no normal queue", JSON.stringify({ a: { 2: Q("a-high") } }), "SQS_QUEUES is invalid at a.1"],
    ["an unknown priority", JSON.stringify({ a: { 1: Q("a"), 3: Q("x") } }), "SQS_QUEUES is invalid at a"],
    ["a URL that is not one", JSON.stringify({ a: { 1: "queue" } }), "SQS_QUEUES is invalid at a.1"],
  ])("refuses %s", (_what, SQS_QUEUES, message) => {
    const { problems } = parse({ SQS_QUEUES });
    expect(problems[0]).toContain(message);
  });

  it("refuses SQS_QUEUE_URL naming another normal queue than SQS_QUEUES for the default model", () => {
    const { problems } = parse({ SQS_QUEUE_URL: Q("old"), SQS_QUEUES: JSON.stringify({ a: { 1: Q("a") } }) });
    expect(problems).toEqual(["SQS_QUEUE_URL and SQS_QUEUES name different normal queues for 'a'"]);
  });

  it("is incomplete without any queue or without the endpoint", () => {
    expect(parse({}).sqs).toBeNull();
    expect(parse({}).problems[0]).toContain("SQS settings are incomplete");
    expect(parse({ SQS_QUEUE_URL: Q("a"), SQS_ENDPOINT: "" }).sqs).toBeNull();
  });

  it("sends any model to the default model's queues when MODELS lists none (any slug is served)", () => {
    const { sqs, problems } = parse({ SQS_QUEUE_URL: Q("jobs") }, []);
    expect(problems).toEqual([]);
    expect(queueUrlFor(sqs!, "whatever-model", 2)).toBe(Q("jobs"));
  });
});
