/**
 * The opt-in model volume of the k8s generator (`k8sSettings.modelVolume`, k8s/src/model-volume.ts), through
 * the generator's own functions: unset, the manifests are the committed ones (no model volume, the image's
 * MODEL_DIR); a PersistentVolumeClaim or an S3 copy step give a Deployment that validates against the
 * Kubernetes schema, keeps the pod's restrictions on every container, and that the worker's settings accept.
 */
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../gpu-worker/src/config/load-config.ts";
import { WorkerEnvSchema } from "../../gpu-worker/src/config/schema.ts";
import { manifestFiles, renderManifests } from "../k8s/src/manifests.ts";
import { assertPinnedImage, MODEL_MOUNT_PATH, type ModelVolume } from "../k8s/src/model-volume.ts";
import { parseS3Location } from "../k8s/src/s3-location.ts";
import { type K8sSettings, k8sSettings } from "../k8s/src/settings.ts";
import { deployment, PROCESS_ENV } from "../k8s/src/workload.ts";

const DIGEST = `sha256:${"a1".repeat(32)}`;
const PVC: ModelVolume = { persistentVolumeClaim: "bd3-models", subPath: "bd3lm-owt-b16", dtype: "float16" };
const S3: ModelVolume = {
  s3: "s3://bd3-models-test/models/bd3lm-owt-b16",
  copyImage: `amazon/aws-cli@${DIGEST}`,
  sizeLimit: "2Gi",
  dtype: "float16",
  modelName: "bd3lm-owt-b16",
};

const withVolume = (modelVolume: ModelVolume): K8sSettings => ({ ...k8sSettings, modelVolume });
const podOf = (object: IDeployment) => object.spec!.template.spec!;
const envOf = (object: IDeployment) =>
  Object.fromEntries((podOf(object).containers[0]!.env ?? []).map((entry) => [entry.name, entry.value]));

/** The worker's own loader on the Deployment's environment (WORKER_ID comes from the pod's name). */
function workerAccepts(object: IDeployment) {
  const names = (podOf(object).containers[0]!.env ?? []).map((entry) => entry.name);
  const known = new Set([...Object.keys(WorkerEnvSchema.shape), ...Object.keys(PROCESS_ENV)]);
  expect(names.filter((name) => !known.has(name))).toEqual([]);
  return loadConfig({ env: { ...envOf(object), WORKER_ID: "bd3-gpu-worker-0" }, envFile: null });
}

describe("k8s model volume: off by default", () => {
  it("mounts no model volume and sets no MODEL_DIR (the image's own) unless a setting asks", () => {
    expect(k8sSettings.modelVolume).toBeUndefined();
    const pod = podOf(deployment(k8sSettings));
    expect(pod.initContainers).toBeUndefined();
    expect(pod.volumes!.map((volume) => volume.name)).toEqual(["tmp"]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
    expect(Object.keys(envOf(deployment(k8sSettings)))).not.toContain("MODEL_DIR");
  });

  it("changes only deployment.yaml when one is set", () => {
    const base = renderManifests();
    for (const volume of [PVC, S3]) {
      const changed = [...renderManifests(withVolume(volume))].filter(([file, text]) => base.get(file) !== text);
      expect(changed.map(([file]) => file)).toEqual(["deployment.yaml"]);
    }
  });
});

describe.each([
  ["persistentVolumeClaim", PVC],
  ["s3", S3],
])("k8s model volume: %s", (_kind, volume) => {
  const object = deployment(withVolume(volume));
  const pod = podOf(object);
  const worker = pod.containers[0]!;

  it("validates against the Kubernetes schema, with every object of the set", () => {
    expect(() => new Deployment(object as never).validate()).not.toThrow();
    const generated = manifestFiles(withVolume(volume)).flatMap((file) => file.objects);
    expect(generated.filter((entry) => entry.kind === "Deployment")).toEqual([object]);
  });

  it("mounts the package read-only at MODEL_DIR, and the worker's settings accept it", () => {
    const mount = worker.volumeMounts!.find((entry) => entry.mountPath === MODEL_MOUNT_PATH)!;
    expect(mount.readOnly).toBe(true);
    expect(pod.volumes!.map((entry) => entry.name)).toEqual(["tmp", mount.name]);
    const config = workerAccepts(object);
    expect(config.engine.modelDir).toBe(MODEL_MOUNT_PATH);
    expect(config.engine.dtype).toBe("float16");
    // The worker keeps its read-only root: the model volume is one more read-only mount.
    expect(worker.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  });
});

describe("k8s model volume: PersistentVolumeClaim", () => {
  it("attaches the claim read-only and mounts the package's folder in it", () => {
    const pod = podOf(deployment(withVolume(PVC)));
    expect(pod.initContainers).toBeUndefined();
    expect(pod.volumes![1]).toEqual({
      name: "model",
      persistentVolumeClaim: { claimName: "bd3-models", readOnly: true },
    });
    expect(pod.containers[0]!.volumeMounts![1]).toEqual({
      name: "model",
      mountPath: MODEL_MOUNT_PATH,
      readOnly: true,
      subPath: "bd3lm-owt-b16",
    });
  });
});

describe("k8s model volume: S3 copy step", () => {
  const object = deployment(withVolume(S3));
  const pod = podOf(object);
  const copy = pod.initContainers![0]!;

  it("copies the prefix's folder into an emptyDir of the set size, with the pinned image", () => {
    expect(copy.image).toBe(`amazon/aws-cli@${DIGEST}`);
    expect([...copy.command!, ...copy.args!]).toEqual([
      "aws",
      "s3",
      "sync",
      "--no-progress",
      "s3://bd3-models-test/models/bd3lm-owt-b16/",
      `${MODEL_MOUNT_PATH}/`,
    ]);
    expect(pod.volumes![1]).toEqual({ name: "model", emptyDir: { sizeLimit: "2Gi" } });
    // Only the copy step writes the package; the worker reads it.
    expect(copy.volumeMounts!.find((mount) => mount.name === "model")).toEqual({
      name: "model",
      mountPath: MODEL_MOUNT_PATH,
    });
    expect(envOf(object).MODEL_NAME).toBe("bd3lm-owt-b16");
    // The schema reaches into initContainers: a wrong type there is refused.
    const broken = structuredClone(object);
    (podOf(broken).initContainers![0] as { args: unknown }).args = "s3 sync";
    expect(() => new Deployment(broken as never).validate()).toThrow(/initContainers/);
  });

  it("runs under the pod's restrictions: non-root, read-only root, no escalation, bounded resources", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(copy.securityContext).toEqual(pod.containers[0]!.securityContext);
    expect(copy.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(copy.resources).toEqual({
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });
    // The CLI's HOME is the pod's writable /tmp emptyDir, and it signs with the pod's region.
    const env = Object.fromEntries((copy.env ?? []).map((entry) => [entry.name, entry.value]));
    expect(env).toEqual({ AWS_REGION: k8sSettings.aws.region, HOME: "/tmp" });
    expect(copy.volumeMounts!.find((mount) => mount.mountPath === "/tmp")!.name).toBe("tmp");
  });

  it("refuses an unpinned copy image, a bucket-wide or wildcard location and a bad size", () => {
    const refused = (patch: Partial<Extract<ModelVolume, { s3: string }>>) => () =>
      deployment(withVolume({ ...(S3 as Extract<ModelVolume, { s3: string }>), ...patch }));
    expect(refused({ copyImage: "amazon/aws-cli" })).toThrow(/copyImage must be pinned/);
    expect(refused({ copyImage: "amazon/aws-cli:latest" })).toThrow(/copyImage must be pinned/);
    expect(refused({ copyImage: "registry.local:5000/aws-cli" })).toThrow(/copyImage must be pinned/);
    expect(refused({ s3: "s3://bd3-models-test" })).toThrow(/must be s3:\/\/<bucket>\/<prefix>/);
    expect(refused({ s3: "s3://bd3-models-test/" })).toThrow(/a prefix is required/);
    expect(refused({ s3: "s3://bd3-models-test/models/*" })).toThrow(/no wildcards/);
    expect(refused({ sizeLimit: "lots" })).toThrow(/sizeLimit/);
  });
});

describe("pinned images and S3 locations", () => {
  it("accepts a digest or an exact tag, also behind a registry port", () => {
    for (const image of [
      `amazon/aws-cli@${DIGEST}`,
      `amazon/aws-cli:2.22.0@${DIGEST}`,
      "amazon/aws-cli:2.22.0",
      "registry.local:5000/mirror/aws-cli:2.22.0",
    ]) {
      expect(() => assertPinnedImage(image, "copyImage"), image).not.toThrow();
    }
  });

  it("normalises the prefix and refuses what would widen a grant", () => {
    expect(parseS3Location("s3://bd3-models-test/models/b16/", "uri")).toEqual({
      bucket: "bd3-models-test",
      prefix: "models/b16",
      folderUri: "s3://bd3-models-test/models/b16/",
    });
    for (const uri of [
      "https://bd3-models-test/models",
      "s3://BD3/models",
      "s3://bd3-models-test//models",
      "s3://bd3-models-test/models/../other",
      // An IAM policy variable, written out: it would widen the grant per principal.
      ["s3://bd3-models-test/models/$", "{aws:username}"].join(""),
      "s3://bd3-models-test/mod?ls",
    ]) {
      expect(() => parseS3Location(uri, "uri"), uri).toThrow(/uri must be s3:\/\/<bucket>\/<prefix>/);
    }
  });
});
