/**
 * The opt-in S3 read grant for a model package (`-c modelS3Uri=...`, cdk/lib/model-package-access.ts),
 * synthesized: without it the stack has no S3 permission; with it the ECS task role and the EKS worker role
 * (and no other principal) may get the prefix's objects and list inside the prefix only.
 */
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { Bd3Stack, type Bd3StackProps } from "../cdk/lib/bd3-stack.ts";
import { MODEL_LIST_ACTIONS, MODEL_OBJECT_READ_ACTIONS } from "../cdk/lib/model-package-access.ts";

const URI = "s3://bd3-models-test/models/bd3lm-owt-b16/";
const BUCKET = "bd3-models-test";
const PREFIX = "models/bd3lm-owt-b16";

function synth(extra: Partial<Bd3StackProps> = {}): Template {
  const app = new App({ context: { "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig": true } });
  const stack = new Bd3Stack(app, "bd3-test", {
    stage: "test",
    edgeUrl: "https://edge.example",
    imageTag: "v1",
    ...extra,
  });
  return Template.fromStack(stack);
}

/** `arn:${AWS::Partition}:s3:::<rest>` as the template writes it. */
const s3Arn = (rest: string) => ({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:s3:::${rest}`]] });

interface PolicyResource {
  Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } };
}

function modelPolicy(template: Template): [string, PolicyResource] {
  const policies = Object.entries(
    template.findResources("AWS::IAM::ManagedPolicy", {
      Properties: { Description: Match.stringLikeRegexp("model package") },
    }),
  ) as [string, PolicyResource][];
  expect(policies).toHaveLength(1);
  return policies[0]!;
}

/** Every role, user and inline policy that names the managed policy (by Ref). */
function holdersOf(template: Template, policyId: string): string[] {
  const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties?: unknown }> };
  return Object.entries(json.Resources)
    .filter(([id]) => id !== policyId)
    .filter(([, resource]) => JSON.stringify(resource.Properties ?? {}).includes(`"Ref":"${policyId}"`))
    .map(([id]) => id);
}

describe("model package in S3 (modelS3Uri)", () => {
  it("grants nothing on S3 without the setting (the default synth)", () => {
    for (const template of [synth(), synth({ eksClusterName: "bd3-eks-test" })]) {
      expect(JSON.stringify(template.toJSON())).not.toMatch(/"s3:/);
      expect(Object.keys(template.findOutputs("ModelPackageS3Uri"))).toEqual([]);
    }
  });

  it("allows GetObject under the prefix and ListBucket inside the prefix only: no wider resource", () => {
    const [, policy] = modelPolicy(synth({ modelS3Uri: URI }));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Effect: "Allow", Action: MODEL_OBJECT_READ_ACTIONS[0], Resource: s3Arn(`${BUCKET}/${PREFIX}/*`) },
      {
        Effect: "Allow",
        Action: MODEL_LIST_ACTIONS[0],
        Resource: s3Arn(BUCKET),
        Condition: { StringLike: { "s3:prefix": `${PREFIX}/*` } },
      },
    ]);
    expect([...MODEL_OBJECT_READ_ACTIONS, ...MODEL_LIST_ACTIONS]).toEqual(["s3:GetObject", "s3:ListBucket"]);
  });

  it("is attached to the ECS task role, and with eksClusterName to the EKS worker role, nothing else", () => {
    const ecsOnly = synth({ modelS3Uri: URI });
    const [ecsPolicyId] = modelPolicy(ecsOnly);
    const taskRoleId = (
      Object.values(ecsOnly.findResources("AWS::ECS::TaskDefinition"))[0] as {
        Properties: { TaskRoleArn: { "Fn::GetAtt": [string, string] } };
      }
    ).Properties.TaskRoleArn["Fn::GetAtt"][0];
    expect(holdersOf(ecsOnly, ecsPolicyId)).toEqual([taskRoleId]);

    const both = synth({ modelS3Uri: URI, eksClusterName: "bd3-eks-test" });
    const [policyId] = modelPolicy(both);
    const workerPodRoleId = Object.keys(
      both.findResources("AWS::IAM::Role", { Properties: { Description: Match.stringLikeRegexp("GPU worker pods") } }),
    )[0];
    // Not KEDA's role, the execution role or the edge user: only the two roles that run the worker.
    expect(holdersOf(both, policyId).sort()).toEqual([taskRoleId, workerPodRoleId].sort());
    both.hasOutput("ModelPackageS3Uri", { Value: `s3://${BUCKET}/${PREFIX}/` });
  });

  it("refuses a bucket-wide location or a wildcard prefix", () => {
    expect(() => synth({ modelS3Uri: `s3://${BUCKET}` })).toThrow(/modelS3Uri must be s3:\/\/<bucket>\/<prefix>/);
    expect(() => synth({ modelS3Uri: `s3://${BUCKET}/` })).toThrow(/a prefix is required/);
    expect(() => synth({ modelS3Uri: `s3://${BUCKET}/models/*` })).toThrow(/no wildcards/);
  });
});
