/**
 * Every value the Kubernetes manifests use, in one place. Worker defaults (ports, batch size, long poll) come
 * from the worker's own settings schema, so a default changed there reaches the manifests at the next
 * `npm --prefix infra run k8s:generate` (and the drift test fails until then). Deployment-specific values
 * (account, region, queue URLs, roles, image) are placeholders an operator edits here and regenerates, or
 * overrides in a kustomize overlay (see ../README.md).
 */
import { WorkerEnvSchema } from "../../../gpu-worker/src/config/schema.ts";
import type { ModelVolume } from "./model-volume.ts";
import { CF_ACCESS_SECRET_KEYS, CF_ACCESS_SECRET_NAME, WORKER_NAME, WORKER_NAMESPACE } from "./names.ts";

/** The worker's defaults: its schema applied to only the required variables. */
export const WORKER_DEFAULTS = WorkerEnvSchema.parse({
  SQS_QUEUE_URL: "https://sqs.invalid/000000000000/defaults",
  AWS_REGION: "defaults",
  EDGE_URL: "https://edge.invalid",
  MODEL_DIR: "/defaults",
});

const STAGE = "prod";
const ACCOUNT_ID = "123456789012";
const REGION = "us-east-1";

/** Part of the drain kept for releasing messages (the worker's RELEASE_RESERVE_MS_MAX, runtime/worker.ts). */
export const RELEASE_RESERVE_SECONDS = 5;
/**
 * Longest time one block can take at a full batch and a full window, with room to spare. Measured (docs/
 * benchmarks/README.md, H200, WebGPU EP): the released shape (12 x 768, L' = 16) at batch 8 and a 1008-token
 * past runs a forward in 274 ms, so first hitting's 16 forwards make a block in ~4.4 s; the demo model's
 * block is ~0.13 s. 30 s covers a GPU ~7x slower than that (an A10G is slower than an H200, not 7x).
 */
export const LONGEST_BLOCK_SECONDS = 30;
/**
 * Flushing a job's block stream after its last block: one round trip when the edge is healthy (~0.1 s);
 * budgeted as three of the worker's edge request timeouts (EDGE_REQUEST_TIMEOUT_MS) so a slow edge is waited for.
 */
export const EDGE_FLUSH_SECONDS = (3 * WORKER_DEFAULTS.EDGE_REQUEST_TIMEOUT_MS) / 1_000;
/**
 * The worker's drain (shutdown.ts, worker.ts): the last long poll (at most RECEIVE_WAIT_SECONDS) ends while the
 * running jobs finish their block and flush it, then messages are released in the reserve.
 */
export const DRAIN_SECONDS =
  Math.max(WORKER_DEFAULTS.RECEIVE_WAIT_SECONDS, LONGEST_BLOCK_SECONDS + EDGE_FLUSH_SECONDS) + RELEASE_RESERVE_SECONDS;
/** The grace the worker gives its drain (SHUTDOWN_GRACE_SECONDS): the drain budget, rounded up to 5 s. */
export const SHUTDOWN_GRACE_SECONDS = Math.ceil(DRAIN_SECONDS / 5) * 5;
/**
 * preStop: a short native sleep before the kubelet's SIGTERM. The worker takes no inbound traffic, so nothing
 * has to be unrouted; the sleep only lets the pod's Terminating state reach the endpoints (its metrics target)
 * first. It must not signal the worker: a second SIGTERM makes it exit at once (shutdown.ts, exit 143).
 */
export const PRE_STOP_SLEEP_SECONDS = 2;
/** After the worker's own deadline: logger flush, process exit, container teardown, before the kubelet's SIGKILL. */
export const EXIT_MARGIN_SECONDS = 10;
/** The kubelet counts the grace from the start of termination, preStop included. */
export const TERMINATION_GRACE_PERIOD_SECONDS = PRE_STOP_SLEEP_SECONDS + SHUTDOWN_GRACE_SECONDS + EXIT_MARGIN_SECONDS;

export const k8sSettings = {
  namespace: WORKER_NAMESPACE,
  name: WORKER_NAME,
  /** The container's name (KEDA's envSourceContainerName). */
  containerName: "worker",
  /** The worker image (infra/docker/gpu-worker.Dockerfile) as pushed to ECR; an overlay's `images:` can remap it. */
  imageRegistry: `${ACCOUNT_ID}.dkr.ecr.${REGION}.amazonaws.com/bd3-${STAGE}-gpu-worker`,
  imageTag: "v1",
  aws: {
    region: REGION,
    /**
     * The model's jobs queues, highest priority first (the CDK stack's names: `-jobs-p2`, `-jobs`, `-jobs-p0`):
     * the worker's SQS_QUEUE_URLS, and one KEDA trigger each.
     */
    jobsQueues: [
      { priority: 2, name: "high", url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/bd3-${STAGE}-jobs-p2` },
      { priority: 1, name: "normal", url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/bd3-${STAGE}-jobs` },
      { priority: 0, name: "low", url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/bd3-${STAGE}-jobs-p0` },
    ],
    deadLettersQueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/bd3-${STAGE}-jobs-dlq`,
    /**
     * The worker's role for IRSA (the ServiceAccount annotation; a role of your own trusting the cluster's OIDC
     * provider, with the CDK WorkerPolicy attached). With EKS Pod Identity the annotation is ignored: the CDK's
     * association (`-c eksClusterName=...`) names the role it creates.
     */
    workerRoleArn: `arn:aws:iam::${ACCOUNT_ID}:role/bd3-${STAGE}-gpu-worker`,
  },
  edgeUrl: "https://api.example.com",
  /** The optional Secret with the Cloudflare Access service token, read into CF_ACCESS_CLIENT_ID / _SECRET. */
  cfAccessSecret: { name: CF_ACCESS_SECRET_NAME, keys: CF_ACCESS_SECRET_KEYS },
  worker: {
    maxBatchSize: WORKER_DEFAULTS.MAX_BATCH_SIZE,
    metricsPort: WORKER_DEFAULTS.METRICS_PORT,
    executionProviders: "cuda,webgpu,cpu",
    visibilityTimeoutSeconds: WORKER_DEFAULTS.VISIBILITY_TIMEOUT_SECONDS,
    heartbeatIntervalSeconds: WORKER_DEFAULTS.HEARTBEAT_INTERVAL_SECONDS,
    receiveWaitSeconds: WORKER_DEFAULTS.RECEIVE_WAIT_SECONDS,
    shutdownGraceSeconds: SHUTDOWN_GRACE_SECONDS,
  },
  health: { livenessPath: "/healthz", readinessPath: "/readyz", metricsPath: "/metrics" },
  /** One g5.xlarge (4 vCPU, 16 GiB, one A10G) per pod; the same memory as the ECS task's reservation (12 GiB). */
  resources: {
    requests: { cpu: "3", memory: "12Gi", gpu: 1 },
    limits: { cpu: "4", memory: "14Gi", gpu: 1 },
    tmpSizeLimit: "1Gi",
    /** The S3 copy step (model-volume.ts): `aws s3 sync` is I/O-bound; its part size x concurrency fits 512 Mi. */
    modelCopy: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
  },
  scaling: {
    minReplicas: 0,
    maxReplicas: 4,
    /** Any visible or in-flight message wakes a worker from zero. */
    activationQueueLength: 0,
    /** KEDA's queue poll; SQS's approximate counts lag by about a minute anyway. */
    pollingIntervalSeconds: 15,
    /**
     * From the last message gone (visible + in flight = 0) to zero replicas. A running job's message is in
     * flight, so this starts only after the last job finished; 5 min spares a GPU node start and a model load
     * (~2 min) for a job that arrives soon after.
     */
    cooldownPeriodSeconds: 300,
    /** HPA scale-in: wait this long on a lower count, then remove one pod per minute (one drain at a time). */
    scaleDownStabilizationSeconds: 120,
    scaleDownPodsPerMinute: 1,
  },
  monitoring: { scrapeIntervalSeconds: 30 },
  /**
   * Where the worker's model package comes from. Unset (the default): the one baked into the image (its own
   * MODEL_DIR), and the manifests mount no model volume. Set one, regenerate, and MODEL_DIR names the mount
   * (model-volume.ts; docs/real-models.md, "On a volume"), e.g.
   *   { persistentVolumeClaim: "bd3-models", subPath: "bd3lm-owt-b16", dtype: "float16" }
   *   { s3: "s3://<bucket>/models/bd3lm-owt-b16", copyImage: "amazon/aws-cli@sha256:<digest>", sizeLimit: "2Gi",
   *     dtype: "float16" }   (the worker role needs the CDK's `-c modelS3Uri=` with the same URI)
   */
  modelVolume: undefined as ModelVolume | undefined,
} as const;
export type K8sSettings = typeof k8sSettings;

export const LABELS = { "app.kubernetes.io/name": k8sSettings.name, "app.kubernetes.io/part-of": "bd3-serve" };
export const SELECTOR = { "app.kubernetes.io/name": k8sSettings.name };
