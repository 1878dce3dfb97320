/**
 * GPU workers on ECS (EC2 GPU instances): one task per GPU, the task count follows the queue depth, and the
 * instances follow the tasks (capacity provider with managed scaling).
 *
 * Scaling: backlog = visible + in-flight messages summed over the jobs queues of every priority (in-flight =
 * jobs running now). The
 * desired task count is ceil(backlog / MAX_BATCH_SIZE), applied as exact-capacity steps, between
 * `minTasks` (0: scale to zero when idle) and `maxTasks`. A task scaled in gets SIGTERM: it appends the
 * blocks in flight, releases its messages, and another task resumes them (ECS waits `stopTimeout`, at most
 * 120 s, which SHUTDOWN_GRACE_SECONDS stays below). A task that holds a job is protected from scale-in
 * (the worker sets ECS task scale-in protection through the agent), so ECS picks idle tasks first.
 *
 * Deployments: minimum healthy 100 % / maximum 200 %: new tasks start (and the capacity provider adds
 * instances) before old ones stop; the circuit breaker rolls back a revision whose tasks fail to come up.
 * Protected old tasks are stopped only once idle (or when a protection lapses): see infra/README.md.
 */
import { ArnFormat, Duration, Fn } from "aws-cdk-lib";
import { AdjustmentType } from "aws-cdk-lib/aws-applicationautoscaling";
import { AutoScalingGroup } from "aws-cdk-lib/aws-autoscaling";
import { MathExpression } from "aws-cdk-lib/aws-cloudwatch";
import { InstanceType, Peer, Port, SecurityGroup, SubnetType, Vpc } from "aws-cdk-lib/aws-ec2";
import type { IRepository } from "aws-cdk-lib/aws-ecr";
import {
  AmiHardwareType,
  AsgCapacityProvider,
  Cluster,
  ContainerImage,
  Ec2Service,
  Ec2TaskDefinition,
  EcsOptimizedImage,
  Secret as EcsSecret,
  LogDrivers,
  NetworkMode,
  Protocol,
} from "aws-cdk-lib/aws-ecs";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { CF_ACCESS_SECRET_KEYS } from "../../k8s/src/names.ts";
import type { QueueAccess } from "./access.ts";
import { type JobQueues, PRIORITIES_HIGH_FIRST, VISIBILITY_TIMEOUT_SECONDS_DEFAULT } from "./job-queues.ts";

export const METRICS_PORT = 9464;
/** The scaling metric: visible + in-flight messages of every priority's queue, summed (one fleet serves all). */
export const BACKLOG_EXPRESSION = PRIORITIES_HIGH_FIRST.map(
  (priority) => `visible${priority} + inFlight${priority}`,
).join(" + ");
/** ECS's ceiling for stopTimeout; the worker's drain grace stays below it. */
export const STOP_TIMEOUT_SECONDS = 120;
export const SHUTDOWN_GRACE_SECONDS = 100;
/** Length of each scale-in protection a busy worker asks for (renewed 5 min before it lapses). */
export const TASK_PROTECTION_EXPIRES_IN_MINUTES = 60;
/** What the ECS agent's task protection endpoint calls with the task role's credentials. */
export const TASK_PROTECTION_ACTIONS = ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"];
/** Deployments keep every running task until its replacement is healthy. */
export const MIN_HEALTHY_PERCENT = 100;
export const MAX_HEALTHY_PERCENT = 200;
/** The JSON keys of the Secrets Manager secret holding the Cloudflare Access service token (the k8s Secret's keys). */
export { CF_ACCESS_SECRET_KEYS };

/** A complete secret ARN (with the 6-character suffix Secrets Manager adds): a JSON key needs one. */
const SECRET_COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;
/** The same probe as the Dockerfile's HEALTHCHECK: the worker's /healthz answers 200. */
export const HEALTHCHECK_SCRIPT =
  "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))";

export interface GpuWorkerServiceProps {
  queues: JobQueues;
  access: QueueAccess;
  repository: IRepository;
  imageTag: string;
  /** Public URL of the edge (its worker API is under /internal/v1). */
  edgeUrl: string;
  /** One GPU each; g5.xlarge = 1 x A10G 24 GB. */
  instanceType?: string;
  maxBatchSize?: number;
  minTasks?: number;
  maxTasks?: number;
  /** Container memory reservation in MiB (host KV budget + model + Node). */
  memoryReservationMiB?: number;
  /**
   * Complete ARN of a Secrets Manager secret `{"client_id": ..., "client_secret": ...}`: the Cloudflare Access
   * service token the workers send to the edge's worker host (docs/deploy.md). Unset: no token is sent.
   */
  cfAccessSecretArn?: string;
}

export class GpuWorkerService extends Construct {
  readonly service: Ec2Service;
  readonly taskDefinition: Ec2TaskDefinition;

  constructor(scope: Construct, id: string, props: GpuWorkerServiceProps) {
    super(scope, id);
    const maxBatchSize = props.maxBatchSize ?? 8;
    const maxTasks = props.maxTasks ?? 4;

    // Public subnets only: workers make outbound HTTPS calls (SQS, the edge) and take no inbound traffic
    // except metrics scrapes from inside the VPC; no NAT gateway to pay for.
    const vpc = new Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: SubnetType.PUBLIC }],
    });
    const cluster = new Cluster(this, "Cluster", { vpc });
    const securityGroup = new SecurityGroup(this, "WorkerSg", { vpc, allowAllOutbound: true });
    securityGroup.addIngressRule(Peer.ipv4(vpc.vpcCidrBlock), Port.tcp(METRICS_PORT), "Prometheus scrape");
    const autoScalingGroup = new AutoScalingGroup(this, "GpuInstances", {
      vpc,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      associatePublicIpAddress: true,
      instanceType: new InstanceType(props.instanceType ?? "g5.xlarge"),
      // Amazon Linux 2023 ECS GPU AMI (NVIDIA driver + container toolkit): SSM parameter
      // /aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id, resolved at deploy time.
      machineImage: EcsOptimizedImage.amazonLinux2023(AmiHardwareType.GPU),
      securityGroup,
      minCapacity: 0,
      maxCapacity: maxTasks,
    });
    const capacityProvider = new AsgCapacityProvider(this, "GpuCapacity", {
      autoScalingGroup,
      enableManagedScaling: true,
      targetCapacityPercent: 100,
    });
    cluster.addAsgCapacityProvider(capacityProvider);

    this.taskDefinition = new Ec2TaskDefinition(this, "Task", { networkMode: NetworkMode.BRIDGE });
    this.taskDefinition.taskRole.addManagedPolicy(props.access.workerPolicy);
    const stack = this.taskDefinition.stack;
    // Scale-in protection: the worker PUTs ${ECS_AGENT_URI}/task-protection/v1/state; the agent calls ECS
    // UpdateTaskProtection with the *task role's* credentials, so the task role needs it (own cluster only).
    this.taskDefinition.taskRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: TASK_PROTECTION_ACTIONS,
        resources: [
          stack.formatArn({
            service: "ecs",
            resource: "task",
            resourceName: `${cluster.clusterName}/*`,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          }),
        ],
      }),
    );
    this.taskDefinition.addContainer("worker", {
      image: ContainerImage.fromEcrRepository(props.repository, props.imageTag),
      gpuCount: 1,
      memoryReservationMiB: props.memoryReservationMiB ?? 12_288,
      stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      portMappings: [{ containerPort: METRICS_PORT, hostPort: METRICS_PORT, protocol: Protocol.TCP }],
      environment: {
        // The model's queues, highest priority first: the worker takes a higher priority first (runtime README).
        SQS_QUEUE_URLS: Fn.join(
          ",",
          props.queues.highFirst.map((queue) => queue.queueUrl),
        ),
        SQS_DLQ_URL: props.queues.deadLetters.queueUrl,
        SQS_ENDPOINT: `https://sqs.${stack.region}.${stack.urlSuffix}`,
        AWS_REGION: stack.region,
        EDGE_URL: props.edgeUrl,
        EXECUTION_PROVIDERS: "cuda,webgpu,cpu",
        MAX_BATCH_SIZE: String(maxBatchSize),
        MAX_RECEIVE_COUNT: String(props.queues.maxReceiveCount),
        VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_TIMEOUT_SECONDS_DEFAULT),
        HEARTBEAT_INTERVAL_SECONDS: "2.5",
        SHUTDOWN_GRACE_SECONDS: String(SHUTDOWN_GRACE_SECONDS),
        // ECS sets ECS_AGENT_URI itself; the worker then protects its task while it holds a job.
        TASK_PROTECTION_EXPIRES_IN_MINUTES: String(TASK_PROTECTION_EXPIRES_IN_MINUTES),
        METRICS_PORT: String(METRICS_PORT),
        // The worker binds loopback by default; the task opts into every interface so the scrape and the
        // health check reach it (the security group admits only the VPC).
        METRICS_HOST: "0.0.0.0",
      },
      healthCheck: {
        command: ["CMD", "node", "-e", HEALTHCHECK_SCRIPT],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(120),
      },
      ...(props.cfAccessSecretArn !== undefined ? { secrets: this.cfAccessSecrets(props.cfAccessSecretArn) } : {}),
      logging: LogDrivers.awsLogs({ streamPrefix: "gpu-worker", logRetention: RetentionDays.ONE_MONTH }),
    });

    this.service = new Ec2Service(this, "Service", {
      cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: props.minTasks ?? 0,
      // A deployment starts the new tasks before it stops old ones (capacity never drops below the desired
      // count), and a revision whose tasks do not come up healthy is rolled back.
      minHealthyPercent: MIN_HEALTHY_PERCENT,
      maxHealthyPercent: MAX_HEALTHY_PERCENT,
      circuitBreaker: { enable: true, rollback: true },
      capacityProviderStrategies: [{ capacityProvider: capacityProvider.capacityProviderName, weight: 1 }],
    });

    const backlog = new MathExpression({
      label: "Jobs queued or running (every priority)",
      expression: BACKLOG_EXPRESSION,
      usingMetrics: Object.fromEntries(
        PRIORITIES_HIGH_FIRST.flatMap((priority) => {
          const queue = props.queues.byPriority[priority];
          return [
            [`visible${priority}`, queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) })],
            [`inFlight${priority}`, queue.metricApproximateNumberOfMessagesNotVisible({ period: Duration.minutes(1) })],
          ];
        }),
      ),
      period: Duration.minutes(1),
    });
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks ?? 0, maxCapacity: maxTasks });
    scaling.scaleOnMetric("Backlog", {
      metric: backlog,
      adjustmentType: AdjustmentType.EXACT_CAPACITY,
      scalingSteps: backlogSteps(maxBatchSize, maxTasks),
      cooldown: Duration.minutes(2),
      evaluationPeriods: 1,
    });
  }

  /**
   * The token's two halves as container secrets: ECS reads them at task start with the execution role (which
   * the CDK allows to read this one secret), so the values never appear in the template or the task definition.
   */
  private cfAccessSecrets(secretArn: string): Record<string, EcsSecret> {
    if (!SECRET_COMPLETE_ARN.test(secretArn)) {
      throw new Error(
        `cfAccessSecretArn must be a complete Secrets Manager ARN (ending in -XXXXXX, as create-secret prints it): ${secretArn}`,
      );
    }
    const secret = Secret.fromSecretCompleteArn(this, "CfAccessToken", secretArn);
    return {
      CF_ACCESS_CLIENT_ID: EcsSecret.fromSecretsManager(secret, CF_ACCESS_SECRET_KEYS.clientId),
      CF_ACCESS_CLIENT_SECRET: EcsSecret.fromSecretsManager(secret, CF_ACCESS_SECRET_KEYS.clientSecret),
    };
  }
}

/**
 * Exact-capacity steps: backlog 0 -> 0 tasks; 1..batch -> 1; batch+1..2·batch -> 2; ...; beyond -> maxTasks.
 * (Bounds are inclusive below, exclusive above; the backlog is a whole number.)
 */
export function backlogSteps(
  maxBatchSize: number,
  maxTasks: number,
): { lower?: number; upper?: number; change: number }[] {
  const steps: { lower?: number; upper?: number; change: number }[] = [{ upper: 1, change: 0 }];
  for (let tasks = 1; tasks < maxTasks; tasks++) {
    steps.push({ lower: (tasks - 1) * maxBatchSize + 1, upper: tasks * maxBatchSize + 1, change: tasks });
  }
  steps.push({ lower: (maxTasks - 1) * maxBatchSize + 1, change: maxTasks });
  return steps;
}
