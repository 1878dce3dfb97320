/**
 * The stack's SQS queues as a test sees them: emptied before a test, their depth, waiting until they drain.
 * Holds one SQS client per endpoint for the test file's lifetime.
 */
import { GetQueueAttributesCommand, PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { createSqsClient } from "../../gpu-worker/src/runtime/queue/job-queue.ts";
import { stackAddresses } from "./stack-env.ts";
import { waitFor } from "./wait-for.ts";

const sqsClients = new Map<string, ReturnType<typeof createSqsClient>>();

function sqsClient() {
  const endpoint = stackAddresses().sqsEndpoint;
  let client = sqsClients.get(endpoint);
  if (client === undefined) {
    client = createSqsClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "t", secretAccessKey: "t" },
    });
    sqsClients.set(endpoint, client);
  }
  return client;
}

/** Empties every jobs queue (each model's and priority's) and DLQ: a test starts from nothing whatever came before. */
export async function purgeQueues(): Promise<void> {
  const { queueUrl, dlqUrl, modelQueues } = stackAddresses();
  const urls = new Set([queueUrl, dlqUrl]);
  for (const queues of Object.values(modelQueues)) {
    for (const url of [...Object.values(queues.byPriority), queues.dlqUrl]) urls.add(url);
  }
  for (const url of urls) await sqsClient().send(new PurgeQueueCommand({ QueueUrl: url }));
}

/** Visible and in-flight messages of a queue. */
export async function queueDepth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const reply = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(reply.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(reply.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/** Waits until neither the jobs queue nor the DLQ holds a message (deletes follow finish by a moment). */
export async function waitForEmptyQueues(): Promise<void> {
  const { queueUrl, dlqUrl } = stackAddresses();
  await waitFor("the queues to be empty", async () => {
    const [jobs, dead] = await Promise.all([queueDepth(queueUrl), queueDepth(dlqUrl)]);
    return jobs.visible + jobs.inFlight + dead.visible + dead.inFlight === 0 ? true : undefined;
  });
}
