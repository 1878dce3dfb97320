/**
 * The jobs queue and its dead-letter queue. A message is moved to the DLQ after `maxReceiveCount` receives:
 * each receive is one worker attempt (a crash, a kill, a lost lease all end an attempt without a delete).
 * Workers fail the job on the edge themselves at the last receive when they can; a job whose last attempt
 * crashed the worker is failed on the edge by the DLQ watcher (any worker started with SQS_DLQ_URL).
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/** Receives before a job message is dead-lettered. */
export const MAX_RECEIVE_COUNT_DEFAULT = 5;
/** Matches the worker's VISIBILITY_TIMEOUT_SECONDS default (it also passes it on every receive). */
export const VISIBILITY_TIMEOUT_SECONDS_DEFAULT = 10;
/** The edge expires a job still queued after 24 h; keep messages a little longer than that. */
export const JOB_RETENTION_DAYS = 2;
/** Dead letters stay for an operator to inspect (the watcher deletes those it could report). */
export const DLQ_RETENTION_DAYS = 14;

export interface JobQueuesProps {
  /** Prefix of the queue names, e.g. `bd3-prod`; one pair of queues per model. */
  namePrefix: string;
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
}

export class JobQueues extends Construct {
  readonly jobs: Queue;
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
    this.jobs = new Queue(this, "Jobs", {
      queueName: `${props.namePrefix}-jobs`,
      visibilityTimeout: Duration.seconds(props.visibilityTimeoutSeconds ?? VISIBILITY_TIMEOUT_SECONDS_DEFAULT),
      retentionPeriod: Duration.days(JOB_RETENTION_DAYS),
      receiveMessageWaitTime: Duration.seconds(20),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: this.maxReceiveCount },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
