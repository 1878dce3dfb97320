/**
 * `npm run synth` (in infra/): writes the CloudFormation template to infra/cdk.out. Settings come from CDK
 * context (`-c key=value` with the cdk CLI, or the environment here, `BD3_<KEY>` upper-cased): stage, model,
 * edgeUrl, imageTag, maxTasks; optional: cfAccessSecretArn (the workers' Cloudflare Access service token in
 * Secrets Manager), eksClusterName (the EKS Pod Identity roles for the Kubernetes path) and modelS3Uri (read
 * access for the worker roles to a model package in S3, `s3://<bucket>/<prefix>`).
 */
import { App } from "aws-cdk-lib";
import { Bd3Stack } from "../lib/bd3-stack.ts";

const app = new App({
  outdir: process.env.CDK_OUTDIR ?? "cdk.out",
  // New AWS accounts cannot create launch configurations any more.
  context: { "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig": true },
});
const optionalSetting = (key: string): string | undefined =>
  (app.node.tryGetContext(key) as string | undefined) ?? (process.env[`BD3_${key.toUpperCase()}`] || undefined);
const setting = (key: string, fallback: string): string => optionalSetting(key) ?? fallback;
const cfAccessSecretArn = optionalSetting("cfAccessSecretArn");
const eksClusterName = optionalSetting("eksClusterName");
const modelS3Uri = optionalSetting("modelS3Uri");

const stage = setting("stage", "dev");
new Bd3Stack(app, `bd3-${stage}`, {
  stage,
  model: setting("model", "kjv-bd3lm-b16"),
  edgeUrl: setting("edgeUrl", "https://bd3-serve-edge.example.workers.dev"),
  imageTag: setting("imageTag", "latest"),
  maxTasks: Number(setting("maxTasks", "4")),
  ...(cfAccessSecretArn !== undefined ? { cfAccessSecretArn } : {}),
  ...(eksClusterName !== undefined ? { eksClusterName } : {}),
  ...(modelS3Uri !== undefined ? { modelS3Uri } : {}),
  description: `bd3-serve ${stage}: job queues by priority + DLQ, IAM, autoscaled GPU workers`,
});
app.synth();
