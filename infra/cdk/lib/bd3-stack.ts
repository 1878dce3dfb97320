/**
 * One deployable stack per model and stage: the model's jobs queues (one per priority) and their DLQ, access for
 * workers and the edge, the worker image repository and the autoscaled GPU service. Environment-agnostic (no lookups), so `npm run synth` works
 * offline; account and region come from the deploy credentials.
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { Repository, TagMutability } from "aws-cdk-lib/aws-ecr";
import type { Construct } from "constructs";
import { QueueAccess } from "./access.ts";
import { EksPodIdentity } from "./eks-pod-identity.ts";
import { GpuWorkerService } from "./gpu-worker-service.ts";
import { JobQueues } from "./job-queues.ts";
import { ModelPackageAccess } from "./model-package-access.ts";

/** The model of a stack that names none (the demo model the edge's DEFAULT_MODEL defaults to). */
export const DEFAULT_MODEL = "kjv-bd3lm-b16";

export interface Bd3StackProps extends StackProps {
  /** e.g. `prod`; prefixes resource names. */
  stage: string;
  /** The model the stack's workers serve (the manifest's name): the key of the edge's SQS_QUEUES output. */
  model?: string;
  edgeUrl: string;
  imageTag: string;
  instanceType?: string;
  maxBatchSize?: number;
  maxTasks?: number;
  maxReceiveCount?: number;
  /** Secrets Manager secret (complete ARN) with the workers' Cloudflare Access service token; none if unset. */
  cfAccessSecretArn?: string;
  /**
   * An EKS cluster (same account and region) running the Kubernetes path (infra/k8s/): adds the worker's and
   * KEDA's Pod Identity roles and their associations (eks-pod-identity.ts). Unset: nothing for EKS.
   */
  eksClusterName?: string;
  /**
   * `s3://<bucket>/<prefix>`: a model package the workers copy from S3 instead of using the image's
   * (infra/k8s's `modelVolume.s3`): the ECS task role and the EKS worker role may read that prefix only
   * (model-package-access.ts). Unset: no S3 permission.
   */
  modelS3Uri?: string;
}

export class Bd3Stack extends Stack {
  constructor(scope: Construct, id: string, props: Bd3StackProps) {
    super(scope, id, props);
    const queues = new JobQueues(this, "Queues", {
      namePrefix: `bd3-${props.stage}`,
      ...(props.maxReceiveCount !== undefined ? { maxReceiveCount: props.maxReceiveCount } : {}),
    });
    const access = new QueueAccess(this, "Access", { queues });
    const repository = new Repository(this, "WorkerImages", {
      repositoryName: `bd3-${props.stage}-gpu-worker`,
      imageTagMutability: TagMutability.IMMUTABLE,
      imageScanOnPush: true,
    });
    const workers = new GpuWorkerService(this, "GpuWorkers", {
      queues,
      access,
      repository,
      imageTag: props.imageTag,
      edgeUrl: props.edgeUrl,
      ...(props.instanceType !== undefined ? { instanceType: props.instanceType } : {}),
      ...(props.maxBatchSize !== undefined ? { maxBatchSize: props.maxBatchSize } : {}),
      ...(props.maxTasks !== undefined ? { maxTasks: props.maxTasks } : {}),
      ...(props.cfAccessSecretArn !== undefined ? { cfAccessSecretArn: props.cfAccessSecretArn } : {}),
    });
    const eks =
      props.eksClusterName !== undefined
        ? new EksPodIdentity(this, "EksPodIdentity", {
            clusterName: props.eksClusterName,
            queues,
            workerPolicy: access.workerPolicy,
          })
        : undefined;
    if (props.modelS3Uri !== undefined) {
      // Both worker roles, as with the queue policy: whichever runs the workers reads the same package.
      const model = new ModelPackageAccess(this, "ModelPackage", { modelS3Uri: props.modelS3Uri });
      workers.taskDefinition.taskRole.addManagedPolicy(model.policy);
      eks?.workerRole.addManagedPolicy(model.policy);
      new CfnOutput(this, "ModelPackageS3Uri", {
        value: model.location.folderUri,
        description: "the folder the worker roles may read (k8s modelVolume.s3)",
      });
    }

    new CfnOutput(this, "JobsQueueUrl", { value: queues.jobs.queueUrl, description: "the normal-priority queue" });
    new CfnOutput(this, "HighPriorityQueueUrl", { value: queues.byPriority[2].queueUrl });
    new CfnOutput(this, "LowPriorityQueueUrl", { value: queues.byPriority[0].queueUrl });
    const model = props.model ?? DEFAULT_MODEL;
    new CfnOutput(this, "EdgeSqsQueues", {
      value: this.toJsonString({
        [model]: { 0: queues.byPriority[0].queueUrl, 1: queues.jobs.queueUrl, 2: queues.byPriority[2].queueUrl },
      }),
      description: "the edge's SQS_QUEUES entry for this model (merge one per stack)",
    });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: queues.deadLetters.queueUrl, description: "SQS_DLQ_URL" });
    new CfnOutput(this, "EdgeUserName", {
      value: access.edgeUser.userName,
      description: "create its access key by hand; store it with `wrangler secret put --env production`",
    });
    new CfnOutput(this, "WorkerImageRepository", { value: repository.repositoryUri });
  }
}
