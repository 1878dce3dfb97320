/**
 * The EKS Pod Identity roles (`-c eksClusterName=...`, cdk/lib/eks-pod-identity.ts), synthesized: each role's
 * trust (pods.eks.amazonaws.com, sts:AssumeRole + sts:TagSession, only for its cluster, namespace and service
 * account), its permissions (the worker's queue policy; KEDA's GetQueueAttributes on the jobs queues only),
 * and associations naming exactly the namespace and service accounts the committed k8s manifests create.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { QUEUE_DEPTH_READER_ACTIONS, WORKER_DLQ_ACTIONS, WORKER_JOB_QUEUE_ACTIONS } from "../cdk/lib/access.ts";
import { Bd3Stack } from "../cdk/lib/bd3-stack.ts";
import { KEDA_OPERATOR, POD_IDENTITY_PRINCIPAL, POD_IDENTITY_TRUST_ACTIONS } from "../cdk/lib/eks-pod-identity.ts";
import { MANIFESTS_DIR } from "../k8s/src/generate.ts";

const CLUSTER = "bd3-eks-test";

function synth(eksClusterName?: string): Template {
  const app = new App({ context: { "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig": true } });
  const stack = new Bd3Stack(app, "bd3-test", {
    stage: "test",
    edgeUrl: "https://edge.example",
    imageTag: "v1",
    ...(eksClusterName !== undefined ? { eksClusterName } : {}),
  });
  return Template.fromStack(stack);
}

interface RoleResource {
  Properties: {
    AssumeRolePolicyDocument: { Statement: Record<string, unknown>[] };
    ManagedPolicyArns?: { Ref: string }[];
  };
}

/** The committed manifests' worker ServiceAccount and the account its pods run as. */
function manifestServiceAccount(): { namespace: string; name: string; podServiceAccount: string } {
  const read = (file: string) =>
    parseAllDocuments(readFileSync(join(MANIFESTS_DIR, file), "utf8")).map((document) => document.toJS());
  const [account] = read("service-account.yaml") as { metadata: { name: string; namespace: string } }[];
  const [deployment] = read("deployment.yaml") as {
    metadata: { namespace: string };
    spec: { template: { spec: { serviceAccountName: string } } };
  }[];
  expect(deployment!.metadata.namespace).toBe(account!.metadata.namespace);
  return {
    namespace: account!.metadata.namespace,
    name: account!.metadata.name,
    podServiceAccount: deployment!.spec.template.spec.serviceAccountName,
  };
}

let template: Template;
beforeAll(() => {
  template = synth(CLUSTER);
});

describe("EKS Pod Identity roles", () => {
  it("are not made unless the stack is given an EKS cluster", () => {
    const plain = synth();
    plain.resourceCountIs("AWS::EKS::PodIdentityAssociation", 0);
    expect(JSON.stringify(plain.toJSON())).not.toContain(POD_IDENTITY_PRINCIPAL);
    expect(Object.keys(plain.findOutputs("EksWorkerRoleArn"))).toEqual([]);
  });

  it("binds the worker role and KEDA's role to the manifests' service accounts on the cluster", () => {
    const manifests = manifestServiceAccount();
    expect(manifests.podServiceAccount).toBe(manifests.name);
    const associations = Object.values(template.findResources("AWS::EKS::PodIdentityAssociation")) as {
      Properties: { ClusterName: string; Namespace: string; ServiceAccount: string; DisableSessionTags: boolean };
    }[];
    expect(associations.map(({ Properties: p }) => [p.ClusterName, p.Namespace, p.ServiceAccount]).sort()).toEqual(
      [
        [CLUSTER, manifests.namespace, manifests.name],
        [CLUSTER, KEDA_OPERATOR.namespace, KEDA_OPERATOR.serviceAccount],
      ].sort(),
    );
    // The trust conditions read the session tags Pod Identity sets; they must not be turned off.
    for (const association of associations) expect(association.Properties.DisableSessionTags).toBe(false);
    template.hasOutput("EksWorkerRoleArn", Match.anyValue());
    template.hasOutput("EksKedaOperatorRoleArn", Match.anyValue());
  });

  it("lets only Pod Identity assume each role, for its own cluster, namespace and service account", () => {
    const manifests = manifestServiceAccount();
    const roles = template.findResources("AWS::IAM::Role", {
      Properties: {
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: POD_IDENTITY_PRINCIPAL } })] },
      },
    }) as Record<string, RoleResource>;
    expect(Object.keys(roles)).toHaveLength(2);
    const trusted = Object.values(roles).map((role) => {
      const statements = role.Properties.AssumeRolePolicyDocument.Statement;
      expect(statements).toHaveLength(1);
      const [statement] = statements as {
        Effect: string;
        Action: string[];
        Principal: unknown;
        Condition: { StringEquals: Record<string, unknown> };
      }[];
      expect(statement!.Effect).toBe("Allow");
      expect(statement!.Action).toEqual(POD_IDENTITY_TRUST_ACTIONS);
      expect(statement!.Principal).toEqual({ Service: POD_IDENTITY_PRINCIPAL });
      const tags = statement!.Condition.StringEquals;
      expect(JSON.stringify(tags["aws:RequestTag/eks-cluster-arn"])).toContain(`:cluster/${CLUSTER}`);
      return [tags["aws:RequestTag/kubernetes-namespace"], tags["aws:RequestTag/kubernetes-service-account"]];
    });
    expect(trusted.sort()).toEqual(
      [
        [manifests.namespace, manifests.name],
        [KEDA_OPERATOR.namespace, KEDA_OPERATOR.serviceAccount],
      ].sort(),
    );
  });

  it("gives the worker role the workers' queue policy (the ECS task role's) and nothing else", () => {
    const [workerPolicyId] = Object.keys(template.findResources("AWS::IAM::ManagedPolicy"));
    const workerRole = Object.values(
      template.findResources("AWS::IAM::Role", {
        Properties: { Description: Match.stringLikeRegexp("GPU worker pods") },
      }),
    )[0] as RoleResource;
    expect(workerRole.Properties.ManagedPolicyArns).toEqual([{ Ref: workerPolicyId }]);
    const [workerPolicy] = Object.values(template.findResources("AWS::IAM::ManagedPolicy")) as {
      Properties: { PolicyDocument: { Statement: { Action: string[]; Resource: unknown[] }[] } };
    }[];
    const statements = workerPolicy!.Properties.PolicyDocument.Statement;
    expect(statements.map((statement) => statement.Action)).toEqual([WORKER_JOB_QUEUE_ACTIONS, WORKER_DLQ_ACTIONS]);
    // The jobs queues (three priorities) and the DLQ, by ARN: no wildcard resource.
    expect(statements[0]!.Resource).toHaveLength(3);
    expect(JSON.stringify(statements)).not.toContain("*");
    // No inline policy on the worker role: what it may do is the managed policy alone.
    const workerRoleId = Object.keys(
      template.findResources("AWS::IAM::Role", {
        Properties: { Description: Match.stringLikeRegexp("GPU worker pods") },
      }),
    )[0]!;
    const inline = Object.values(template.findResources("AWS::IAM::Policy")).filter((policy) =>
      JSON.stringify(policy).includes(`"Ref":"${workerRoleId}"`),
    );
    expect(inline).toEqual([]);
  });

  it("lets KEDA's role read only the jobs queues' attributes", () => {
    const kedaRoleId = Object.keys(
      template.findResources("AWS::IAM::Role", {
        Properties: { Description: Match.stringLikeRegexp("KEDA operator") },
      }),
    )[0]!;
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((policy) =>
      JSON.stringify(policy).includes(`"Ref":"${kedaRoleId}"`),
    ) as {
      Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: { "Fn::GetAtt": string[] }[] }[] } };
    }[];
    expect(policies).toHaveLength(1);
    const [statement, ...others] = policies[0]!.Properties.PolicyDocument.Statement;
    expect(others).toEqual([]);
    expect([statement!.Action].flat()).toEqual(QUEUE_DEPTH_READER_ACTIONS);
    const queueIds = statement!.Resource.map((resource) => resource["Fn::GetAtt"][0]!.replace(/[0-9A-F]{8}$/, ""));
    expect(queueIds).toEqual(["QueuesJobsHigh", "QueuesJobs", "QueuesJobsLow"]);
  });
});
