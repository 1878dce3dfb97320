/**
 * Read access to a model package in S3 (`-c modelS3Uri=s3://<bucket>/<prefix>`), for workers that serve it from
 * a volume instead of the image: the Kubernetes Deployment's copy step (infra/k8s/src/model-volume.ts) copies
 * that folder with the pod's role. Opt-in: without the setting the stack has no S3 permission at all.
 *
 * Least privilege: `s3:GetObject` on the objects under the prefix only, and `s3:ListBucket` on the bucket only
 * for listings inside the prefix (what `aws s3 sync s3://<bucket>/<prefix>/` sends), so neither another
 * prefix's objects nor their names can be read. The URI is parsed by the generator's parser
 * (k8s/src/s3-location.ts), which refuses a bucket-wide location and wildcards in the prefix.
 */
import { Stack } from "aws-cdk-lib";
import { ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { parseS3Location, type S3Location } from "../../k8s/src/s3-location.ts";

export const MODEL_OBJECT_READ_ACTIONS = ["s3:GetObject"];
export const MODEL_LIST_ACTIONS = ["s3:ListBucket"];

export class ModelPackageAccess extends Construct {
  readonly policy: ManagedPolicy;
  readonly location: S3Location;

  constructor(scope: Construct, id: string, props: { modelS3Uri: string }) {
    super(scope, id);
    this.location = parseS3Location(props.modelS3Uri, "modelS3Uri");
    const { bucket, prefix } = this.location;
    // S3 ARNs carry no region or account; the partition keeps the stack deployable outside `aws`.
    const bucketArn = `arn:${Stack.of(this).partition}:s3:::${bucket}`;
    this.policy = new ManagedPolicy(this, "Policy", {
      description: `bd3 GPU worker: read the model package under ${this.location.folderUri}`,
      statements: [
        new PolicyStatement({ actions: MODEL_OBJECT_READ_ACTIONS, resources: [`${bucketArn}/${prefix}/*`] }),
        new PolicyStatement({
          actions: MODEL_LIST_ACTIONS,
          resources: [bucketArn],
          // `prefix/*` also matches the folder itself (`prefix/`, the sync's listing), never `prefix-other/`.
          conditions: { StringLike: { "s3:prefix": `${prefix}/*` } },
        }),
      ],
    });
  }
}
