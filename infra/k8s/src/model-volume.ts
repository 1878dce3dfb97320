/**
 * Serving the model package from a volume instead of the one baked into the image (docs/real-models.md, "On a
 * volume"). Opt-in: `k8sSettings.modelVolume` is unset by default and then nothing here reaches the manifests.
 * Two sources, both mounted read-only at MODEL_MOUNT_PATH, which MODEL_DIR then names:
 *
 * - `persistentVolumeClaim`: a claim that already holds the package (ReadOnlyMany, or ReadWriteOnce pinned to
 *   one node), mounted as is; nothing is copied.
 * - `s3`: an initContainer copies `s3://<bucket>/<prefix>/` into an emptyDir on every pod start, with the pod's
 *   own identity (IRSA or Pod Identity: the CDK's `-c modelS3Uri=...` grants the worker role that prefix only).
 *   The worker starts only once the copy succeeded, and a truncated graph still fails the load's size and
 *   sha256 checks.
 *
 * No imports from settings.ts (it imports the type from here): the caller hands in what the parts need.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { parseS3Location } from "./s3-location.ts";

/** Where the package is mounted in the worker (and written by the copy step): MODEL_DIR. */
export const MODEL_MOUNT_PATH = "/models";
export const MODEL_VOLUME_NAME = "model";
export const MODEL_COPY_CONTAINER_NAME = "fetch-model";

/** The worker settings that pick what to serve from the package (gpu-worker/src/config/schema.ts). */
interface ModelPackageChoice {
  /** MODEL_DTYPE: the graph to load when the package has both; unset, the worker's default (float32). */
  dtype?: "float32" | "float16";
  /** MODEL_NAME: the name jobs ask for; unset, the package manifest's `name`. */
  modelName?: string;
}

export interface PvcModelVolume extends ModelPackageChoice {
  /** The PersistentVolumeClaim's name (same namespace), holding the package; mounted read-only. */
  persistentVolumeClaim: string;
  /** The package's folder inside the claim; unset, the claim's root is the package (its manifest.json). */
  subPath?: string;
}

export interface S3ModelVolume extends ModelPackageChoice {
  /** `s3://<bucket>/<prefix>`: the package's folder (a prefix is required: s3-location.ts). */
  s3: string;
  /**
   * The copy step's image, pinned by the operator: an AWS CLI v2 image (`aws` on its PATH), by digest
   * (`amazon/aws-cli@sha256:...`, best) or by an exact version tag (`amazon/aws-cli:2.x.y`); `latest` or no
   * tag is refused. No default: the generator cannot resolve a digest offline, and an unpinned tool that reads
   * the bucket with the worker's credentials should not change under a running fleet.
   */
  copyImage: string;
  /** The emptyDir's `sizeLimit`, above the package's size (a pod that outgrows it is evicted), e.g. `2Gi`. */
  sizeLimit: string;
}

export type ModelVolume = PvcModelVolume | S3ModelVolume;

/** What the Deployment adds for a model volume; every list is empty without one. */
export interface ModelVolumeParts {
  workerEnv: IEnvVar[];
  workerMounts: IVolumeMount[];
  initContainers: IContainer[];
  volumes: IVolume[];
}

export interface ModelVolumeContext {
  region: string;
  /** The pod's writable /tmp emptyDir: the AWS CLI's HOME on the read-only root. */
  tmpVolumeName: string;
  /** The worker container's own (non-root is pod-wide); the copy step runs under the same restrictions. */
  containerSecurityContext: ISecurityContext;
  copyResources: {
    requests: { cpu: string; memory: string };
    limits: { cpu: string; memory: string };
  };
}

const NO_PARTS: ModelVolumeParts = { workerEnv: [], workerMounts: [], initContainers: [], volumes: [] };
const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** `name@sha256:<64 hex>`, or `name:<tag>` with a tag other than `latest` (the tag follows the last `/`). */
export function assertPinnedImage(image: string, setting: string): void {
  if (DIGEST.test(image)) return;
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  const tag = colon < 0 ? "" : lastSegment.slice(colon + 1);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag) || tag === "latest" || /\s/.test(image)) {
    throw new Error(`${setting} must be pinned: <image>@sha256:<digest> or <image>:<version tag>, not ${image}`);
  }
}

export function modelVolumeParts(volume: ModelVolume | undefined, context: ModelVolumeContext): ModelVolumeParts {
  if (volume === undefined) return NO_PARTS;
  const workerEnv = modelEnv(volume);
  if ("persistentVolumeClaim" in volume) {
    if (volume.persistentVolumeClaim === "") throw new Error("modelVolume.persistentVolumeClaim: a claim name");
    return {
      ...NO_PARTS,
      workerEnv,
      workerMounts: [
        {
          name: MODEL_VOLUME_NAME,
          mountPath: MODEL_MOUNT_PATH,
          readOnly: true,
          ...(volume.subPath !== undefined ? { subPath: volume.subPath } : {}),
        },
      ],
      // readOnly on the claim too: the kubelet attaches it read-only, so no pod can change a shared package.
      volumes: [
        { name: MODEL_VOLUME_NAME, persistentVolumeClaim: { claimName: volume.persistentVolumeClaim, readOnly: true } },
      ],
    };
  }
  const location = parseS3Location(volume.s3, "modelVolume.s3");
  assertPinnedImage(volume.copyImage, "modelVolume.copyImage");
  if (!QUANTITY.test(volume.sizeLimit))
    throw new Error(`modelVolume.sizeLimit: a quantity such as 2Gi, not ${volume.sizeLimit}`);
  const copy: IContainer = {
    name: MODEL_COPY_CONTAINER_NAME,
    image: volume.copyImage,
    imagePullPolicy: "IfNotPresent",
    command: ["aws"],
    // sync, not cp: a retried init container (same pod, same emptyDir) fetches only what is missing or short.
    args: ["s3", "sync", "--no-progress", location.folderUri, `${MODEL_MOUNT_PATH}/`],
    env: [
      { name: "AWS_REGION", value: context.region },
      // The CLI keeps its config and caches under $HOME; the root is read-only, /tmp is the emptyDir.
      { name: "HOME", value: "/tmp" },
    ],
    resources: context.copyResources,
    securityContext: context.containerSecurityContext,
    volumeMounts: [
      { name: MODEL_VOLUME_NAME, mountPath: MODEL_MOUNT_PATH },
      { name: context.tmpVolumeName, mountPath: "/tmp" },
    ],
  };
  return {
    workerEnv,
    workerMounts: [{ name: MODEL_VOLUME_NAME, mountPath: MODEL_MOUNT_PATH, readOnly: true }],
    initContainers: [copy],
    volumes: [{ name: MODEL_VOLUME_NAME, emptyDir: { sizeLimit: volume.sizeLimit } }],
  };
}

function modelEnv(volume: ModelVolume): IEnvVar[] {
  return [
    { name: "MODEL_DIR", value: MODEL_MOUNT_PATH },
    ...(volume.dtype !== undefined ? [{ name: "MODEL_DTYPE", value: volume.dtype }] : []),
    ...(volume.modelName !== undefined ? [{ name: "MODEL_NAME", value: volume.modelName }] : []),
  ];
}
