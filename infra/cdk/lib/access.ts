/**
 * Least-privilege access to the queues. Workers (an ECS task role) receive, extend, delete and re-enqueue
 * continuations on the jobs queues (every priority) and drain the DLQ; the edge (Cloudflare Workers, outside AWS) only sends,
 * as an IAM user whose access key an operator creates by hand and stores with `wrangler secret put` (a key
 * made here would land in the CloudFormation template).
 */
import { ManagedPolicy, PolicyStatement, User } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import type { JobQueues } from "./job-queues.ts";

export const WORKER_JOB_QUEUE_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:DeleteMessage",
  "sqs:SendMessage",
  "sqs:GetQueueAttributes",
  "sqs:GetQueueUrl",
];
export const WORKER_DLQ_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:DeleteMessage",
  "sqs:GetQueueAttributes",
];
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
