/**
 * The local queue set-ups dead-letter like production: `npm run dev:sqs` (edge/dev/fauxqs-init.json) and
 * `FAUXQS_INIT=infra/local/fauxqs-init.json npx fauxqs` create `bd3-jobs` redriving to `bd3-jobs-dlq` after
 * the CDK's maxReceiveCount. Checked on a real fauxqs started from each file (not by reading the JSON alone).
 * `npm start`'s embedded stack (scripts/local-stack.ts) takes the same constant (JOB_MAX_RECEIVE_COUNT in
 * shared/src/limits.ts, which the CDK's default is) as its default, so it cannot drift.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";
import { describe, expect, it } from "vitest";
import { MAX_RECEIVE_COUNT_DEFAULT } from "../cdk/lib/job-queues.ts";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

describe.each(["edge/dev/fauxqs-init.json", "infra/local/fauxqs-init.json"])("%s", (initFile) => {
  it(`redrives bd3-jobs to bd3-jobs-dlq after ${MAX_RECEIVE_COUNT_DEFAULT} receives, as the CDK stack does`, async () => {
    const sqs = await startFauxqs({ port: 0, logger: false, init: resolve(REPO_ROOT, initFile) });
    const client = new SQSClient({
      endpoint: sqs.address,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: "bd3-jobs" }));
      const { Attributes } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["RedrivePolicy"] }),
      );
      const redrive = JSON.parse(Attributes?.RedrivePolicy ?? "{}") as {
        maxReceiveCount?: number | string;
        deadLetterTargetArn?: string;
      };
      expect(Number(redrive.maxReceiveCount)).toBe(MAX_RECEIVE_COUNT_DEFAULT);
      expect(redrive.deadLetterTargetArn).toMatch(/:bd3-jobs-dlq$/);
      await client.send(new GetQueueUrlCommand({ QueueName: "bd3-jobs-dlq" }));
    } finally {
      client.destroy();
      await sqs.stop();
    }
  });
});

describe("edge/dev/fauxqs-init.json and wrangler.toml's dev SQS_QUEUES", () => {
  it("creates every queue the dev edge sends to (each model and priority), each redriving to its model's DLQ as production does", async () => {
    const toml = readFileSync(resolve(REPO_ROOT, "wrangler.toml"), "utf8");
    const queues = JSON.parse(/^SQS_QUEUES = """([\s\S]*?)"""/m.exec(toml)![1]!) as Record<
      string,
      Record<string, string>
    >;
    const sqs = await startFauxqs({ port: 0, logger: false, init: resolve(REPO_ROOT, "edge/dev/fauxqs-init.json") });
    const client = new SQSClient({
      endpoint: sqs.address,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      for (const [model, byPriority] of Object.entries(queues)) {
        expect(Object.keys(byPriority).sort(), model).toEqual(["0", "1", "2"]);
        for (const url of Object.values(byPriority)) {
          const QueueName = url.split("/").pop()!;
          const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName }));
          const { Attributes } = await client.send(
            new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["RedrivePolicy"] }),
          );
          const redrive = JSON.parse(Attributes?.RedrivePolicy ?? "{}") as {
            deadLetterTargetArn?: string;
            maxReceiveCount?: number | string;
          };
          const dlq = model === "kjv-bd3lm-b16" ? "bd3-jobs-dlq" : `bd3-jobs-${model}-dlq`;
          expect(redrive.deadLetterTargetArn, QueueName).toMatch(new RegExp(`:${dlq}$`));
          expect(Number(redrive.maxReceiveCount), QueueName).toBe(MAX_RECEIVE_COUNT_DEFAULT);
        }
      }
    } finally {
      client.destroy();
      await sqs.stop();
    }
  });
});
