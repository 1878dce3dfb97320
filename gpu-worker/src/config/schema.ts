/**
 * The worker's settings, read from the environment (and a `.env` file, see `load-config.ts`). Every setting is
 * validated here once; a missing or bad one stops start-up with a message naming the variable. Names carry
 * their unit; defaults are the values we run in production unless noted. What the runtime reads is the grouped
 * WorkerConfig built from them (worker-config.ts).
 */
import { isIP } from "node:net";
import { hostname } from "node:os";
import { WORKER_ID_MAX_LENGTH } from "@bd3-serve/shared";
import { z } from "zod";
import {
  LOWEST_FIRST_EVERY_ROUNDS_DEFAULT,
  PRIORITY_RECEIVE_WAIT_SECONDS_DEFAULT,
} from "../runtime/queue/priority-queues.ts";

/** SQS long poll cap: a receive waits at most 20 s for a message. */
export const RECEIVE_WAIT_SECONDS_MAX = 20;
/** SQS caps one message's visibility at 12 h counted from its receive; longer jobs re-enqueue a continuation. */
export const SQS_VISIBILITY_MAX_SECONDS = 12 * 60 * 60;
/** One receive returns at most 10 messages (an SQS limit). */
export const SQS_RECEIVE_MAX_MESSAGES = 10;
/** The metrics/health server listens on loopback unless METRICS_HOST says otherwise. */
export const METRICS_HOST_DEFAULT = "127.0.0.1";

const ExecutionProviderSchema = z.enum(["cuda", "webgpu", "cpu"]);

/** `true` or `false`, spelt out (a typo such as `ture` is refused rather than read as false). */
const booleanFromEnv = z.enum(["true", "false"]).transform((value) => value === "true");

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Raw environment -> typed settings. Keys are the environment variable names. */
export const WorkerEnvSchema = z
  .object({
    WORKER_ID: z
      .string()
      .min(1)
      .max(WORKER_ID_MAX_LENGTH)
      .default(() => `${hostname()}-${process.pid}`),
    /** The jobs queue, exactly as `CreateQueue`/`GetQueueUrl` returned it (one queue; or SQS_QUEUE_URLS). */
    SQS_QUEUE_URL: z.url().optional(),
    /**
     * The model's queues by priority, comma-separated, highest priority first (`<high>,<normal>,<low>`): a
     * round takes from a higher queue first (runtime/queue/priority-queues.ts). Set this or SQS_QUEUE_URL.
     */
    SQS_QUEUE_URLS: z
      .string()
      .transform((value) => value.split(",").map((url) => url.trim()))
      .pipe(z.array(z.url()).min(1).max(10))
      .optional(),
    /** Every RECEIVE_LOWEST_FIRST_EVERY_ROUNDS-th receive round starts from the lowest queue: its bounded share. */
    RECEIVE_LOWEST_FIRST_EVERY_ROUNDS: intFromEnv(2, 1_000).default(LOWEST_FIRST_EVERY_ROUNDS_DEFAULT),
    /** With several queues, the long poll of a round's last queue waits at most this long, in seconds. */
    PRIORITY_RECEIVE_WAIT_SECONDS: intFromEnv(0, RECEIVE_WAIT_SECONDS_MAX).default(
      PRIORITY_RECEIVE_WAIT_SECONDS_DEFAULT,
    ),
    /**
     * The dead-letter queue of the jobs queue(s) (one DLQ shared by a model's priority queues); when set this
     * worker also watches it and fails its jobs on the edge.
     */
    SQS_DLQ_URL: z.url().optional(),
    /** SQS endpoint; default `https://sqs.<region>.amazonaws.com`. Always passed to the client (JSON protocol). */
    SQS_ENDPOINT: z.url().optional(),
    AWS_REGION: z.string().min(1),
    /** Static credentials (local SQS); leave both unset to use the default provider chain (instance/pod role). */
    AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
    AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    AWS_SESSION_TOKEN: z.string().min(1).optional(),
    /** Base URL of the edge (the worker API lives under `/internal/v1`). */
    EDGE_URL: z.url(),
    /**
     * A Cloudflare Access service token (both or neither), sent as `CF-Access-Client-Id` /
     * `CF-Access-Client-Secret` on every call to the edge, so an Access policy can guard the worker host
     * (WORKER_API_HOSTNAME; docs/deploy.md). Never logged.
     */
    CF_ACCESS_CLIENT_ID: z.string().min(1).optional(),
    CF_ACCESS_CLIENT_SECRET: z.string().min(1).optional(),
    /** Per attempt, in milliseconds. */
    EDGE_REQUEST_TIMEOUT_MS: intFromEnv(100, 120_000).default(10_000),
    /** Attempts per edge call (the first included); retries only on 5xx and network errors. */
    EDGE_MAX_ATTEMPTS: intFromEnv(1, 20).default(6),
    /** Block stream: how long a batch waits for more blocks before it is sent, in ms; default 5 (edge client). */
    BLOCK_STREAM_LINGER_MS: intFromEnv(0, 1_000).optional(),
    /** Block stream: batches of one job in flight at once; default 5 (edge client). */
    BLOCK_STREAM_MAX_IN_FLIGHT: intFromEnv(1, 32).optional(),
    MODEL_DIR: z.string().min(1),
    /** Model name jobs must ask for; default: the manifest's `name`. One queue per model. */
    MODEL_NAME: z.string().min(1).max(64).optional(),
    MODEL_DTYPE: z.enum(["float32", "float16"]).optional(),
    /** Comma-separated, in preference order, e.g. `cuda,webgpu,cpu`. */
    EXECUTION_PROVIDERS: z
      .string()
      .default("cpu")
      .transform((value) => value.split(",").map((name) => name.trim()))
      .pipe(z.array(ExecutionProviderSchema).min(1)),
    /**
     * Serve on the CPU even though EXECUTION_PROVIDERS asks for a GPU provider that did not come up (missing
     * driver or CUDA libraries, no device in the container). Default false: such a worker refuses to start
     * (exit 2) instead of taking jobs at a fraction of the speed. Set true only where a CPU worker is wanted.
     */
    ALLOW_CPU_FALLBACK: booleanFromEnv.default(false),
    INTRA_OP_NUM_THREADS: intFromEnv(1, 1_024).optional(),
    /** Worker threads sampling beside the engine's thread; 0: none. Default: cores - 1, at most 7. */
    SAMPLER_THREADS: intFromEnv(0, 64).optional(),
    /** Keep the batched past on the GPU between forwards: auto (default: on for webgpu), on, full, off. */
    DEVICE_PAST: z.enum(["auto", "on", "full", "off"]).default("auto"),
    /** Sequences generated together; also the number of messages this worker holds at once. */
    MAX_BATCH_SIZE: intFromEnv(1, 256).default(8),
    /** Host KV cache budget in bytes; default: the engine's (room for MAX_BATCH_SIZE full windows). */
    KV_BUDGET_BYTES: intFromEnv(1, Number.MAX_SAFE_INTEGER).optional(),
    /**
     * Visibility the worker keeps extending while a job runs, in seconds. Short, so the job of a worker that
     * died is visible to another one within seconds (recovery in ~10 s); the lease epoch, not the visibility,
     * keeps two workers from writing one job.
     */
    VISIBILITY_TIMEOUT_SECONDS: intFromEnv(2, SQS_VISIBILITY_MAX_SECONDS).default(10),
    /**
     * How often a running job extends its visibility and heart-beats the edge, in seconds; must be below the
     * visibility. 2.5 s of 10 s tolerates an engine step holding the event loop for ~7 s.
     */
    HEARTBEAT_INTERVAL_SECONDS: z.coerce.number().positive().max(SQS_VISIBILITY_MAX_SECONDS).default(2.5),
    /** Long poll wait of one receive. */
    RECEIVE_WAIT_SECONDS: intFromEnv(0, RECEIVE_WAIT_SECONDS_MAX).default(RECEIVE_WAIT_SECONDS_MAX),
    /**
     * Receives of a message after which it goes to the DLQ; default: read from the queue's RedrivePolicy at
     * start-up. At that last receive the worker fails the job on the edge instead of leaving it for a retry.
     */
    MAX_RECEIVE_COUNT: intFromEnv(1, 1_000).optional(),
    /** Continuation margin: hand a job over this long before its message reaches SQS's 12 h visibility cap. */
    CONTINUATION_MARGIN_SECONDS: intFromEnv(1, SQS_VISIBILITY_MAX_SECONDS).default(15 * 60),
    /** Port of /metrics, /healthz and /readyz (0: any free port). */
    METRICS_PORT: intFromEnv(0, 65_535).default(9464),
    /**
     * Address the metrics/health server binds: loopback by default, so a worker started on a laptop or a shared
     * host exposes nothing; the container image sets 0.0.0.0 so the scraper and the orchestrator reach it.
     */
    METRICS_HOST: z
      .string()
      .default(METRICS_HOST_DEFAULT)
      .refine((host) => isIP(host) !== 0 || host === "localhost", {
        message: `must be an IP address to bind: ${METRICS_HOST_DEFAULT} (loopback, the default) or 0.0.0.0 (all interfaces)`,
      }),
    /**
     * The ECS container agent's endpoint, which ECS sets in every task's containers. When set the worker asks
     * for task scale-in protection while it holds a job (runtime/fleet/ecs-task-protection.ts); unset
     * elsewhere (Kubernetes, a laptop): nothing is called.
     */
    ECS_AGENT_URI: z.url().optional(),
    /** Length of each scale-in protection the worker asks for, renewed before it lapses while jobs run. */
    TASK_PROTECTION_EXPIRES_IN_MINUTES: intFromEnv(1, 2_880).default(60),
    /** Time from SIGTERM to exit: in-flight blocks are appended, the other messages released. */
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().positive().max(3_600).default(25),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  // One of the two queue settings, checked even when other settings fail (`when`), so a start-up with several
  // missing names them all.
  .refine((env) => env.SQS_QUEUE_URL !== undefined || env.SQS_QUEUE_URLS !== undefined, {
    path: ["SQS_QUEUE_URL"],
    message: "is required (or SQS_QUEUE_URLS: the queues by priority, highest first)",
    when: () => true,
  })
  .refine((env) => env.SQS_QUEUE_URL === undefined || env.SQS_QUEUE_URLS === undefined, {
    path: ["SQS_QUEUE_URLS"],
    message: "set SQS_QUEUE_URLS or SQS_QUEUE_URL, not both",
    when: () => true,
  })
  .superRefine((env, ctx) => {
    if (env.HEARTBEAT_INTERVAL_SECONDS >= env.VISIBILITY_TIMEOUT_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["HEARTBEAT_INTERVAL_SECONDS"],
        message: `must be below VISIBILITY_TIMEOUT_SECONDS (${env.VISIBILITY_TIMEOUT_SECONDS})`,
      });
    }
    if (env.RECEIVE_WAIT_SECONDS >= env.SHUTDOWN_GRACE_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["RECEIVE_WAIT_SECONDS"],
        message: `must be below SHUTDOWN_GRACE_SECONDS (${env.SHUTDOWN_GRACE_SECONDS}): a drain waits for the last long poll`,
      });
    }
    if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [env.AWS_ACCESS_KEY_ID === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"],
        message: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither",
      });
    }
    if ((env.CF_ACCESS_CLIENT_ID === undefined) !== (env.CF_ACCESS_CLIENT_SECRET === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [env.CF_ACCESS_CLIENT_ID === undefined ? "CF_ACCESS_CLIENT_ID" : "CF_ACCESS_CLIENT_SECRET"],
        message: "set both CF_ACCESS_CLIENT_ID and CF_ACCESS_CLIENT_SECRET, or neither",
      });
    }
    if (env.CONTINUATION_MARGIN_SECONDS + env.VISIBILITY_TIMEOUT_SECONDS >= SQS_VISIBILITY_MAX_SECONDS) {
      ctx.addIssue({
        code: "custom",
        path: ["CONTINUATION_MARGIN_SECONDS"],
        message: "CONTINUATION_MARGIN_SECONDS + VISIBILITY_TIMEOUT_SECONDS must stay below 12 h",
      });
    }
  });
export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;
