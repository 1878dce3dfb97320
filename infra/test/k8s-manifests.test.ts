/**
 * The Kubernetes path (infra/k8s/): the committed manifests validate against the Kubernetes OpenAPI schemas
 * and KEDA's / the Prometheus operator's CRD schemas (kubernetes-models' validators, offline), equal what the
 * generator writes now, and agree with the worker: its settings schema, its health server, its drain, its image.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../gpu-worker/src/config/load-config.ts";
import { WorkerEnvSchema } from "../../gpu-worker/src/config/schema.ts";
import { type HealthServer, startHealthServer } from "../../gpu-worker/src/runtime/observability/health-server.ts";
import { createWorkerMetrics } from "../../gpu-worker/src/runtime/observability/metrics.ts";
import { MANIFESTS_DIR, staleManifests } from "../k8s/src/generate.ts";
import { type ManifestObject, manifestFiles, renderManifests } from "../k8s/src/manifests.ts";
import { CF_ACCESS_SECRET_NAME } from "../k8s/src/names.ts";
import {
  EXIT_MARGIN_SECONDS,
  PRE_STOP_SLEEP_SECONDS,
  RELEASE_RESERVE_SECONDS,
  WORKER_DEFAULTS,
} from "../k8s/src/settings.ts";
import { PROCESS_ENV } from "../k8s/src/workload.ts";

type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "keda.sh/v1alpha1/TriggerAuthentication": TriggerAuthentication,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

/** What `kubectl apply -k infra/k8s/manifests` applies: the committed files, parsed. */
function committedObjects(): ManifestObject[] {
  return manifestFiles().flatMap(({ file }) =>
    parseAllDocuments(readFileSync(join(MANIFESTS_DIR, file), "utf8")).map(
      (document) => document.toJS() as ManifestObject,
    ),
  );
}

function only<T = ManifestObject>(kind: string): T {
  const found = committedObjects().filter((object) => object.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as unknown as T;
}

/**
 * The worker's drain reserve, loaded at run time: worker.ts pulls in the whole runtime (engine, WebAssembly
 * kernels), which infra's tsconfig does not type-check, so the specifier is not a literal tsc follows.
 */
async function releaseReserveMs(): Promise<number> {
  const workerModule = pathToFileURL(resolve(import.meta.dirname, "../../gpu-worker/src/runtime/worker.ts")).href;
  return ((await import(workerModule)) as { RELEASE_RESERVE_MS_MAX: number }).RELEASE_RESERVE_MS_MAX;
}

const deployment = () => only<IDeployment & ManifestObject>("Deployment");
const container = () => deployment().spec!.template.spec!.containers[0]!;
const envOf = () => Object.fromEntries((container().env ?? []).map((entry) => [entry.name, entry.value]));

describe("k8s manifests: schemas", () => {
  it("validates every committed object against its Kubernetes / KEDA / Prometheus-operator schema", () => {
    const objects = committedObjects();
    expect(objects.map((object) => object.kind).sort()).toEqual(
      [
        "Deployment",
        "Namespace",
        "PodDisruptionBudget",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "TriggerAuthentication",
      ].sort(),
    );
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata?.name}`).not.toThrow();
    }
  });

  it("the validators are live: a wrong type, a missing field and a bad enum are refused", () => {
    const scaled = structuredClone(only<{ spec: { triggers: { metadata: unknown }[] } }>("ScaledObject"));
    scaled.spec.triggers[0]!.metadata = { queueLength: 8 };
    expect(() => new ScaledObject(scaled as never).validate()).toThrow(/queueLength must be string/);
    const auth = structuredClone(only<{ spec: { podIdentity: { provider: string } } }>("TriggerAuthentication"));
    auth.spec.podIdentity.provider = "aws-kiam";
    expect(() => new TriggerAuthentication(auth as never).validate()).toThrow(/allowed values/);
    const broken = structuredClone(deployment()) as { spec: { selector?: unknown } };
    delete broken.spec.selector;
    expect(() => new Deployment(broken as never).validate()).toThrow(/selector/);
    const nested = structuredClone(deployment());
    (nested.spec!.template.spec!.containers[0]!.lifecycle!.preStop!.sleep as { seconds: unknown }).seconds = "2";
    expect(() => new Deployment(nested as never).validate()).toThrow(/sleep\/seconds must be integer/);
  });

  it("unknown fields are refused by the types the generator is written against (tsc), not by the validators", () => {
    const misspelt: IDeployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      // @ts-expect-error `terminationGracePeriod` is not a DeploymentSpec field: the excess-property check catches it
      spec: { selector: {}, template: {}, terminationGracePeriod: 1 },
    };
    expect(misspelt.kind).toBe("Deployment");
  });
});

describe("k8s manifests: committed = generated", () => {
  it("infra/k8s/manifests/ is what the generator writes now (npm --prefix infra run k8s:generate)", () => {
    expect(staleManifests()).toEqual([]);
  });

  it("the drift check names a changed file and a file the generator no longer writes", () => {
    const dir = mkdtempSync(join(tmpdir(), "bd3-k8s-"));
    for (const [file, text] of renderManifests()) writeFileSync(join(dir, file), text);
    expect(staleManifests(dir)).toEqual([]);
    writeFileSync(
      join(dir, "keda.yaml"),
      renderManifests().get("keda.yaml")!.replace('queueLength: "8"', 'queueLength: "5"'),
    );
    writeFileSync(join(dir, "old.yaml"), "kind: ConfigMap\n");
    expect(staleManifests(dir)).toEqual(["keda.yaml", "old.yaml"]);
  });

  it("the kustomization lists every manifest file", () => {
    const kustomization = parseAllDocuments(readFileSync(join(MANIFESTS_DIR, "kustomization.yaml"), "utf8"))[0]!.toJS();
    expect(kustomization.resources).toEqual(manifestFiles().map((entry) => entry.file));
  });
});

describe("k8s manifests: agree with the worker", () => {
  let health: HealthServer;
  beforeAll(async () => {
    health = await startHealthServer({
      port: 0,
      host: "127.0.0.1",
      registry: createWorkerMetrics({ maxBatchSize: 8 }).registry,
      state: () => ({ isModelLoaded: true, isQueueReachable: true, isDraining: false, brokenReason: undefined }),
    });
  });
  afterAll(async () => {
    await health.close();
  });

  it("sets only variables of the worker's settings schema (plus HOME), and the worker accepts them", () => {
    const known = new Set([...Object.keys(WorkerEnvSchema.shape), ...Object.keys(PROCESS_ENV)]);
    const names = (container().env ?? []).map((entry) => entry.name);
    expect(names.filter((name) => !known.has(name))).toEqual([]);
    const env = { ...envOf(), WORKER_ID: "bd3-gpu-worker-0", MODEL_DIR: "/app/models/kjv-bd3lm-b16" };
    const config = loadConfig({ env, envFile: null });
    expect(config.engine.executionProviders).toEqual(["cuda", "webgpu", "cpu"]);
    expect(config.engine.allowCpuFallback).toBe(false);
    expect(config.metrics.host).toBe("0.0.0.0");
  });

  it("reads the Cloudflare Access service token from an optional Secret, never as a value in the manifests", () => {
    const fromSecret = Object.fromEntries(
      (container().env ?? [])
        .filter((entry) => entry.name.startsWith("CF_ACCESS_"))
        .map((entry) => [entry.name, { value: entry.value, ref: entry.valueFrom?.secretKeyRef }]),
    );
    expect(fromSecret).toEqual({
      CF_ACCESS_CLIENT_ID: { value: undefined, ref: { name: CF_ACCESS_SECRET_NAME, key: "client_id", optional: true } },
      CF_ACCESS_CLIENT_SECRET: {
        value: undefined,
        ref: { name: CF_ACCESS_SECRET_NAME, key: "client_secret", optional: true },
      },
    });
    // The worker takes both or neither: the two names are its settings (loadConfig refuses one alone).
    expect(Object.keys(WorkerEnvSchema.shape)).toEqual(expect.arrayContaining(Object.keys(fromSecret)));
    const secretKinds = committedObjects().filter((object) => object.kind === "Secret");
    expect(secretKinds).toEqual([]);
  });

  it("probes and scrapes the worker's health server: its port and paths", async () => {
    const port = container().ports!.find((entry) => entry.name === "metrics")!;
    expect(port.containerPort).toBe(WORKER_DEFAULTS.METRICS_PORT);
    expect(Number(envOf().METRICS_PORT)).toBe(port.containerPort);
    const liveness = container().livenessProbe!.httpGet!;
    const readiness = container().readinessProbe!.httpGet!;
    const monitor = only<ManifestObject & { spec: { endpoints: { port: string; path: string }[] } }>("ServiceMonitor");
    const service = only<ManifestObject & { spec: { ports: { name: string; port: number }[] } }>("Service");
    expect([liveness.port, readiness.port, monitor.spec.endpoints[0]!.port, service.spec.ports[0]!.name]).toEqual([
      "metrics",
      "metrics",
      "metrics",
      "metrics",
    ]);
    expect(service.spec.ports[0]!.port).toBe(port.containerPort);
    for (const path of [liveness.path!, readiness.path!, monitor.spec.endpoints[0]!.path]) {
      expect((await fetch(`http://127.0.0.1:${health.port}${path}`)).status, path).toBe(200);
    }
  });

  it("gives the drain its full grace: terminationGracePeriodSeconds >= preStop + SHUTDOWN_GRACE_SECONDS + margin", async () => {
    const spec = deployment().spec!.template.spec!;
    const graceSeconds = Number(envOf().SHUTDOWN_GRACE_SECONDS);
    const preStopSeconds = container().lifecycle!.preStop!.sleep!.seconds;
    expect(preStopSeconds).toBe(PRE_STOP_SLEEP_SECONDS);
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      preStopSeconds + graceSeconds + EXIT_MARGIN_SECONDS,
    );
    // The drain waits for the last long poll, then keeps a reserve to release messages (worker.ts).
    expect(RELEASE_RESERVE_SECONDS * 1_000).toBe(await releaseReserveMs());
    expect(graceSeconds).toBeGreaterThanOrEqual(Number(envOf().RECEIVE_WAIT_SECONDS) + RELEASE_RESERVE_SECONDS);
    // The hook must not signal the worker (a second SIGTERM forces exit 143): a sleep, never an exec.
    expect(container().lifecycle!.preStop!.exec).toBeUndefined();
  });

  it("scales on jobs per replica = MAX_BATCH_SIZE, from zero, summed over a trigger per SQS_QUEUE_URLS queue", () => {
    const scaled = only<{
      spec: {
        minReplicaCount: number;
        cooldownPeriod: number;
        scaleTargetRef: { name: string; envSourceContainerName: string };
        advanced: { scalingModifiers: { formula: string; target: string; metricType: string } };
        triggers: {
          type: string;
          name: string;
          metadata: Record<string, string>;
          authenticationRef: { name: string };
        }[];
      };
    }>("ScaledObject").spec;
    // One trigger per queue the worker polls, in its order (highest priority first); the HPA target is their sum.
    expect(scaled.triggers.map((entry) => entry.metadata.queueURL)).toEqual(envOf().SQS_QUEUE_URLS!.split(","));
    expect(envOf().SQS_QUEUE_URL).toBeUndefined();
    expect(scaled.triggers.map((entry) => entry.name)).toEqual(["high", "normal", "low"]);
    expect(scaled.advanced.scalingModifiers).toEqual({
      formula: "high + normal + low",
      target: envOf().MAX_BATCH_SIZE,
      activationTarget: "0",
      metricType: "AverageValue",
    });
    const [trigger] = scaled.triggers;
    expect(trigger!.type).toBe("aws-sqs-queue");
    expect(Number(trigger!.metadata.queueLength)).toBe(Number(envOf().MAX_BATCH_SIZE));
    expect(Number(trigger!.metadata.queueLength)).toBe(WORKER_DEFAULTS.MAX_BATCH_SIZE);
    expect(scaled.minReplicaCount).toBe(0);
    expect(trigger!.metadata.activationQueueLength).toBeDefined();
    expect(trigger!.metadata.scaleOnInFlight).toBe("true");
    expect(scaled.cooldownPeriod).toBeGreaterThanOrEqual(Number(envOf().SHUTDOWN_GRACE_SECONDS));
    expect(scaled.scaleTargetRef).toMatchObject({
      name: deployment().metadata!.name,
      envSourceContainerName: container().name,
    });
    for (const entry of scaled.triggers) expect(entry.metadata.queueURL).toMatch(/^https:\/\/sqs\./);
    expect(trigger!.metadata.awsRegion).toBe(envOf().AWS_REGION);
    const auth = only<ManifestObject & { spec: { podIdentity: Record<string, string> } }>("TriggerAuthentication");
    expect(trigger!.authenticationRef.name).toBe(auth.metadata!.name);
    expect(auth.spec.podIdentity.provider).toBe("aws");
    expect(auth.spec.podIdentity).not.toHaveProperty("identityOwner");
    // The operator's own role reads the queues (the CDK's KedaOperatorRole): nothing to assume.
    expect(auth.spec.podIdentity).not.toHaveProperty("roleArn");
  });

  it("runs the image's non-root uid on one GPU, with a read-only root and /tmp on an emptyDir", () => {
    const dockerfile = readFileSync(resolve(import.meta.dirname, "../docker/gpu-worker.Dockerfile"), "utf8");
    const uid = Number(/^USER (\d+):(\d+)$/m.exec(dockerfile)![1]);
    const spec = deployment().spec!.template.spec!;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid });
    expect(Number(/^EXPOSE (\d+)$/m.exec(dockerfile)![1])).toBe(WORKER_DEFAULTS.METRICS_PORT);
    expect(container().resources).toMatchObject({
      requests: { "nvidia.com/gpu": 1 },
      limits: { "nvidia.com/gpu": 1 },
    });
    expect(container().securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    const tmp = container().volumeMounts!.find((mount) => mount.mountPath === "/tmp")!;
    expect(spec.volumes!.find((volume) => volume.name === tmp.name)!.emptyDir).toBeDefined();
    const account = only<ManifestObject & { metadata: { annotations: Record<string, string> } }>("ServiceAccount");
    expect(spec.serviceAccountName).toBe(account.metadata.name);
    expect(account.metadata.annotations["eks.amazonaws.com/role-arn"]).toMatch(/^arn:aws:iam::\d{12}:role\//);
  });
});
