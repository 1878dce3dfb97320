/**
 * The worker's workload objects as plain Kubernetes objects: Namespace, ServiceAccount (IRSA / EKS Pod
 * Identity), Deployment (one GPU per pod, non-root, read-only root, drain-sized grace), PodDisruptionBudget
 * and the headless Service its metrics are scraped through. Typed with kubernetes-models' interfaces, so a
 * misspelt field fails `tsc`; the tests validate the objects against the Kubernetes OpenAPI schemas.
 */
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { type ModelVolumeParts, modelVolumeParts } from "./model-volume.ts";
import {
  type K8sSettings,
  LABELS,
  PRE_STOP_SLEEP_SECONDS,
  SELECTOR,
  TERMINATION_GRACE_PERIOD_SECONDS,
} from "./settings.ts";

/** Variables that are not worker settings but the process needs (read-only root: HOME on the /tmp emptyDir). */
export const PROCESS_ENV = { HOME: "/tmp" } as const;
/** The uid/gid the image creates and runs as (infra/docker/gpu-worker.Dockerfile). */
export const WORKER_UID = 10001;
const METRICS_PORT_NAME = "metrics";
const TMP_VOLUME_NAME = "tmp";
/** Every container of the pod (the worker, and the model copy step when there is one). */
const CONTAINER_SECURITY_CONTEXT: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/** The model volume's parts for these settings (all empty when `modelVolume` is unset). */
function modelParts(settings: K8sSettings): ModelVolumeParts {
  return modelVolumeParts(settings.modelVolume, {
    region: settings.aws.region,
    tmpVolumeName: TMP_VOLUME_NAME,
    containerSecurityContext: CONTAINER_SECURITY_CONTEXT,
    copyResources: settings.resources.modelCopy,
  });
}

/** The worker's environment: every name is a variable of gpu-worker/src/config/schema.ts (checked in the tests). */
export function workerEnv(settings: K8sSettings): IEnvVar[] {
  const { aws, worker } = settings;
  const values: Record<string, string> = {
    // Highest priority first: the worker takes a higher priority first, low keeps a bounded share.
    SQS_QUEUE_URLS: aws.jobsQueues.map((queue) => queue.url).join(","),
    SQS_DLQ_URL: aws.deadLettersQueueUrl,
    SQS_ENDPOINT: `https://sqs.${aws.region}.amazonaws.com`,
    AWS_REGION: aws.region,
    EDGE_URL: settings.edgeUrl,
    EXECUTION_PROVIDERS: worker.executionProviders,
    // A GPU pod that came up without its GPU stops (exit 2) instead of serving on the CPU.
    ALLOW_CPU_FALLBACK: "false",
    MAX_BATCH_SIZE: String(worker.maxBatchSize),
    VISIBILITY_TIMEOUT_SECONDS: String(worker.visibilityTimeoutSeconds),
    HEARTBEAT_INTERVAL_SECONDS: String(worker.heartbeatIntervalSeconds),
    RECEIVE_WAIT_SECONDS: String(worker.receiveWaitSeconds),
    SHUTDOWN_GRACE_SECONDS: String(worker.shutdownGraceSeconds),
    METRICS_PORT: String(worker.metricsPort),
    // The worker binds loopback unless told; the kubelet's probes and the scraper come from outside the pod.
    METRICS_HOST: "0.0.0.0",
  };
  return [
    { name: "WORKER_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ...Object.entries(values).map(([name, value]) => ({ name, value })),
    // MODEL_DIR (+ MODEL_DTYPE / MODEL_NAME) only with a model volume: otherwise the image's own MODEL_DIR.
    ...modelParts(settings).workerEnv,
    ...cfAccessEnv(settings),
    ...Object.entries(PROCESS_ENV).map(([name, value]) => ({ name, value })),
  ];
}

/**
 * The Cloudflare Access service token from its Secret, if the operator made one (`optional`: without it the
 * pod starts and sends no Access headers). A Secret with one key only starts a pod with one half, which the
 * worker refuses (exit 2 naming the missing one): a broken token fails loudly instead of locking out quietly.
 */
function cfAccessEnv(settings: K8sSettings): IEnvVar[] {
  const { name, keys } = settings.cfAccessSecret;
  const fromSecret = (key: string) => ({ secretKeyRef: { name, key, optional: true } });
  return [
    { name: "CF_ACCESS_CLIENT_ID", valueFrom: fromSecret(keys.clientId) },
    { name: "CF_ACCESS_CLIENT_SECRET", valueFrom: fromSecret(keys.clientSecret) },
  ];
}

export function namespace(settings: K8sSettings): INamespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: settings.namespace,
      labels: { "app.kubernetes.io/part-of": LABELS["app.kubernetes.io/part-of"] },
    },
  };
}

export function serviceAccount(settings: K8sSettings): IServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: settings.name,
      namespace: settings.namespace,
      labels: LABELS,
      // IRSA. With EKS Pod Identity the annotation is ignored and a pod identity association names the role
      // for this namespace + service account instead (README).
      annotations: {
        "eks.amazonaws.com/role-arn": settings.aws.workerRoleArn,
        "eks.amazonaws.com/sts-regional-endpoints": "true",
      },
    },
    // The worker never calls the Kubernetes API; IRSA and Pod Identity project their own tokens.
    automountServiceAccountToken: false,
  };
}

export function deployment(settings: K8sSettings): IDeployment {
  const { resources, health, worker } = settings;
  const probe = (path: string) => ({ httpGet: { path, port: METRICS_PORT_NAME } });
  const model = modelParts(settings);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: settings.name, namespace: settings.namespace, labels: LABELS },
    spec: {
      // No `replicas`: KEDA's HPA owns the count (0..maxReplicas); an apply must not reset it.
      selector: { matchLabels: SELECTOR },
      // A new pod must be ready (model loaded, queue reachable) before an old one starts draining.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: LABELS },
        spec: {
          serviceAccountName: settings.name,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_PERIOD_SECONDS,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: WORKER_UID,
            runAsGroup: WORKER_UID,
            fsGroup: WORKER_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          // GPU node groups are usually tainted so only GPU pods land there.
          tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          // The S3 model copy, if any: the worker starts only after it succeeded.
          ...(model.initContainers.length > 0 ? { initContainers: model.initContainers } : {}),
          containers: [
            {
              name: settings.containerName,
              image: `${settings.imageRegistry}:${settings.imageTag}`,
              imagePullPolicy: "IfNotPresent",
              env: workerEnv(settings),
              ports: [{ name: METRICS_PORT_NAME, containerPort: worker.metricsPort, protocol: "TCP" }],
              resources: {
                requests: {
                  cpu: resources.requests.cpu,
                  memory: resources.requests.memory,
                  "nvidia.com/gpu": resources.requests.gpu,
                },
                limits: {
                  cpu: resources.limits.cpu,
                  memory: resources.limits.memory,
                  "nvidia.com/gpu": resources.limits.gpu,
                },
              },
              // /healthz answers from the start (before the model loads) and turns 503 only for a broken
              // engine. A forward holds the event loop (ort-runner.ts), so the probe waits long before it counts.
              livenessProbe: {
                ...probe(health.livenessPath),
                periodSeconds: 15,
                timeoutSeconds: 10,
                failureThreshold: 4,
              },
              // /readyz: model loaded, queue reachable, not draining.
              readinessProbe: {
                ...probe(health.readinessPath),
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 3,
              },
              // SIGTERM starts the drain (shutdown.ts); the hook only delays it and must not signal.
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              securityContext: CONTAINER_SECURITY_CONTEXT,
              // A writable /tmp on the read-only root: GPU drivers keep shader caches in $HOME (= /tmp).
              volumeMounts: [{ name: TMP_VOLUME_NAME, mountPath: "/tmp" }, ...model.workerMounts],
            },
          ],
          volumes: [{ name: TMP_VOLUME_NAME, emptyDir: { sizeLimit: resources.tmpSizeLimit } }, ...model.volumes],
        },
      },
    },
  };
}

/**
 * Voluntary disruptions (node drains, consolidation) take one pod at a time, each with its full drain. HPA
 * scale-in deletes pods directly and is not an eviction: the PDB does not slow it (the HPA policy does).
 */
export function podDisruptionBudget(settings: K8sSettings): IPodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: settings.name, namespace: settings.namespace, labels: LABELS },
    spec: { maxUnavailable: 1, selector: { matchLabels: SELECTOR }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  };
}

/**
 * Headless: only the scraper uses it (through the ServiceMonitor's endpoints); the worker takes no traffic.
 * Not-ready pods are listed too, so a pod loading its model or draining (readiness 503) is still scraped.
 */
export function metricsService(settings: K8sSettings): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `${settings.name}-metrics`, namespace: settings.namespace, labels: LABELS },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: SELECTOR,
      ports: [{ name: METRICS_PORT_NAME, port: settings.worker.metricsPort, targetPort: METRICS_PORT_NAME }],
    },
  };
}
