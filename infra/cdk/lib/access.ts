/**
 * Least-privilege access to the queues. Workers (the ECS task role, or on EKS the Pod Identity role of
 * eks-pod-identity.ts: the same managed policy) receive, extend, delete and re-send (continuations, a
 * tenant at its running-jobs limit) on the jobs queues (every priority), read their RedrivePolicy at start-up,
 * and drain the DLQ; exactly the SQS calls of gpu-worker/src/runtime/queue/job-queue.ts (a test compares
 * them). The edge (Cloudflare Workers, outside AWS) only sends, as an IAM user whose access key an operator
 * creates by hand and stores with `wrangler secret put` (a key made here would land in the CloudFormation
 * template).
 */
import { ManagedPolicy, PolicyStatement, User } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import type { JobQueues } from "./job-queues.ts";

/** The worker on its jobs queues. No GetQueueUrl: it is given the URLs (SQS_QUEUE_URLS). */
export const WORKER_JOB_QUEUE_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:DeleteMessage",
  "sqs:SendMessage",
  "sqs:GetQueueAttributes",
];
/** The DLQ watcher: receive, defer (change visibility), delete once the edge was told. */
export const WORKER_DLQ_ACTIONS = ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"];
/** A queue-depth autoscaler (KEDA's aws-sqs-queue scaler; the ECS path uses CloudWatch metrics instead). */
export const QUEUE_DEPTH_READER_ACTIONS = ["sqs:GetQueueAttributes"];
export const EDGE_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueAttributes"];

export class QueueAccess extends Construct {
  readonly workerPolicy: ManagedPolicy;
  readonly edgeUser: User;

  constructor(scope: Construct, id: string, props: { queues: JobQueues }) {
    super(scope, id);
    const { deadLetters } = props.queues;
    const jobQueueArns = props.queues.highFirst.map((queue) => queue.queueArn);
    this.workerPolicy = new ManagedPolicy(this, "WorkerPolicy", {
      description: "bd3 GPU worker: consume jobs, send continuations, drain the DLQ",
      statements: [
        new PolicyStatement({ actions: WORKER_JOB_QUEUE_ACTIONS, resources: jobQueueArns }),
        new PolicyStatement({ actions: WORKER_DLQ_ACTIONS, resources: [deadLetters.queueArn] }),
      ],
    });
    this.edgeUser = new User(this, "EdgeUser");
    this.edgeUser.addToPolicy(new PolicyStatement({ actions: EDGE_ACTIONS, resources: jobQueueArns }));
  }
}
