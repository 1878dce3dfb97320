/**
 * The jobs queues of the stack's model, one per priority (`<prefix>-jobs-p2` high, `<prefix>-jobs` normal,
 * `<prefix>-jobs-p0` low: the edge sends a job to the queue of its priority, workers poll them highest first
 * with a bounded share for low, see gpu-worker/src/runtime/README.md), and ONE dead-letter queue they all
 * redrive to (the DLQ watcher reads a job's id and capability from the body, whichever queue it came from).
 * A message is moved to the DLQ after `maxReceiveCount` receives:
 * each receive is one worker attempt (a crash, a kill, a lost lease all end an attempt without a delete).
 * Workers fail the job on the edge themselves at the last receive when they can; a job whose last attempt
 * crashed the worker is failed on the edge by the DLQ watcher (any worker started with SQS_DLQ_URL).
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
// The file itself, not the package: the CDK app loads no zod schemas (shared's index) to read one number.
import { JOB_MAX_RECEIVE_COUNT } from "../../../shared/src/limits.ts";

/** Receives before a job message is dead-lettered: the one value the local queue set-ups share (shared/). */
export const MAX_RECEIVE_COUNT_DEFAULT = JOB_MAX_RECEIVE_COUNT;
/** Matches the worker's VISIBILITY_TIMEOUT_SECONDS default (it also passes it on every receive). */
export const VISIBILITY_TIMEOUT_SECONDS_DEFAULT = 10;
/** The edge expires a job still queued after 24 h; keep messages a little longer than that. */
export const JOB_RETENTION_DAYS = 2;
/** Dead letters stay for an operator to inspect (the watcher deletes those it could report). */
export const DLQ_RETENTION_DAYS = 14;

/** The priorities, highest first (workers' SQS_QUEUE_URLS order). */
export const PRIORITIES_HIGH_FIRST = [2, 1, 0] as const;
export type Priority = (typeof PRIORITIES_HIGH_FIRST)[number];

export interface JobQueuesProps {
  /** Prefix of the queue names, e.g. `bd3-prod`; one pair of queues per model. */
  namePrefix: string;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
}

export class JobQueues extends Construct {
  /** The normal-priority queue (the single jobs queue of older stacks, same name). */
  readonly jobs: Queue;
  /** Every priority's queue: 0 low, 1 normal (`jobs`), 2 high. */
  readonly byPriority: Record<Priority, Queue>;
  readonly deadLetters: Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: JobQueuesProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? MAX_RECEIVE_COUNT_DEFAULT;
    this.deadLetters = new Queue(this, "DeadLetters", {
      queueName: `${props.namePrefix}-jobs-dlq`,
      retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const jobsQueue = (id: string, queueName: string) =>
      new Queue(this, id, {
        queueName,
        visibilityTimeout: Duration.seconds(props.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_SECONDS_DEFAULT),
        retentionPeriod: Duration.days(JOB_RETENTION_DAYS),
        receiveMessageWaitTime: Duration.seconds(20),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: this.maxReceiveCount },
        removalPolicy: RemovalPolicy.RETAIN,
      });
    // "Jobs" keeps its logical id and name, so an existing stack keeps its queue as the normal one.
    this.jobs = jobsQueue("Jobs", `${props.namePrefix}-jobs`);
    this.byPriority = {
      0: jobsQueue("JobsLow", `${props.namePrefix}-jobs-p0`),
      1: this.jobs,
      2: jobsQueue("JobsHigh", `${props.namePrefix}-jobs-p2`),
    };
  }

  /** The jobs queues, highest priority first. */
  get highFirst(): Queue[] {
    return PRIORITIES_HIGH_FIRST.map((priority) => this.byPriority[priority]);
  }
}
