import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EDGE_ACTIONS, WORKER_DLQ_ACTIONS, WORKER_JOB_QUEUE_ACTIONS } from "../cdk/lib/access.ts";
import { Bd3Stack } from "../cdk/lib/bd3-stack.ts";
import {
  BACKLOG_EXPRESSION,
  backlogSteps,
  CF_ACCESS_SECRET_KEYS,
  MAX_HEALTHY_PERCENT,
  MIN_HEALTHY_PERCENT,
  SHUTDOWN_GRACE_SECONDS,
  STOP_TIMEOUT_SECONDS,
  TASK_PROTECTION_ACTIONS,
  TASK_PROTECTION_EXPIRES_IN_MINUTES,
} from "../cdk/lib/gpu-worker-service.ts";

function synth(extra: { cfAccessSecretArn?: string } = {}): Template {
  const app = new App({ context: { "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig": true } });
  const stack = new Bd3Stack(app, "bd3-test", {
    stage: "test",
    edgeUrl: "https://edge.example",
    imageTag: "v1",
    maxReceiveCount: 4,
    ...extra,
  });
  return Template.fromStack(stack);
}

let template: Template;
beforeAll(() => {
  template = synth();
});

/** `sqs:<Command>` for every SQS command the worker's queue client sends (gpu-worker/src/runtime/queue/job-queue.ts). */
function workerSqsActions(): string[] {
  const source = readFileSync(resolve(import.meta.dirname, "../../gpu-worker/src/runtime/queue/job-queue.ts"), "utf8");
  return [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map((match) => `sqs:${match[1]}`))].sort();
}

describe("bd3 stack", () => {
  it("dead-letters a job message after maxReceiveCount receives", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "bd3-test-jobs",
      VisibilityTimeout: 10,
      RedrivePolicy: { maxReceiveCount: 4, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: "bd3-test-jobs-dlq" });
  });

  it("has one jobs queue per priority, all redriving to the one DLQ", () => {
    const queues = Object.values(template.findResources("AWS::SQS::Queue")) as {
      Properties: { QueueName: string; RedrivePolicy?: { maxReceiveCount: number; deadLetterTargetArn: unknown } };
    }[];
    expect(queues.map((queue) => queue.Properties.QueueName).sort()).toEqual([
      "bd3-test-jobs",
      "bd3-test-jobs-dlq",
      "bd3-test-jobs-p0",
      "bd3-test-jobs-p2",
    ]);
    const redrives = queues.flatMap((queue) =>
      queue.Properties.RedrivePolicy ? [queue.Properties.RedrivePolicy] : [],
    );
    expect(redrives).toHaveLength(3);
    expect(new Set(redrives.map((redrive) => JSON.stringify(redrive))).size).toBe(1);
    // The edge's SQS_QUEUES entry for the stack's model is an output (one per stack, merged by the operator).
    const output = template.findOutputs("EdgeSqsQueues").EdgeSqsQueues as { Value: unknown };
    expect(JSON.stringify(output.Value)).toContain("kjv-bd3lm-b16");
  });

  it("gives the workers every priority's queue, highest first, and the edge SendMessage on each", () => {
    const taskDefinition = Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0] as {
      Properties: { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] };
    };
    const environment = taskDefinition.Properties.ContainerDefinitions[0]!.Environment;
    const names = environment.map((entry) => entry.Name);
    expect(names).toContain("SQS_QUEUE_URLS");
    expect(names).not.toContain("SQS_QUEUE_URL"); // the worker refuses both
    const urls = JSON.stringify(environment.find((entry) => entry.Name === "SQS_QUEUE_URLS")!.Value);
    const logicalIds = (urls.match(/QueuesJobs\w*/g) ?? []).map((id) => id.replace(/[0-9A-F]{8}$/, ""));
    expect(logicalIds).toEqual(["QueuesJobsHigh", "QueuesJobs", "QueuesJobsLow"]);
    const edgePolicy = Object.values(template.findResources("AWS::IAM::Policy")).find((policy) =>
      JSON.stringify(policy).includes('"sqs:SendMessage"'),
    ) as { Properties: { PolicyDocument: { Statement: { Resource: unknown[] }[] } } };
    expect(edgePolicy.Properties.PolicyDocument.Statement[0]!.Resource).toHaveLength(3);
  });

  it("gives workers only the queue actions they use, and the edge only SendMessage", () => {
    const policies = template.findResources("AWS::IAM::ManagedPolicy");
    const statements = Object.values(policies).flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: { Action: string[] }[] } } }).Properties.PolicyDocument
          .Statement,
    );
    expect(statements.map((statement) => statement.Action)).toEqual([WORKER_JOB_QUEUE_ACTIONS, WORKER_DLQ_ACTIONS]);
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: [Match.objectLike({ Action: EDGE_ACTIONS })] },
      Users: Match.anyValue(),
    });
  });

  it("allows the workers exactly the SQS calls their queue client makes, and the DLQ watcher only its own", () => {
    expect([...WORKER_JOB_QUEUE_ACTIONS].sort()).toEqual(workerSqsActions());
    // The watcher receives (consumer), defers (change visibility) and deletes; it never sends or reads attributes.
    const watcher = readFileSync(
      resolve(import.meta.dirname, "../../gpu-worker/src/runtime/dlq/dlq-watcher.ts"),
      "utf8",
    );
    const dlqCalls = [...new Set([...watcher.matchAll(/\bdlq\.(\w+)\(/g)].map((match) => match[1]))].sort();
    expect(dlqCalls).toEqual(["changeVisibility", "delete"]);
    expect(WORKER_DLQ_ACTIONS).toEqual(["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"]);
  });

  it("runs one GPU per task with the worker settings and a drain window below ECS's stop timeout", () => {
    expect(SHUTDOWN_GRACE_SECONDS).toBeLessThan(STOP_TIMEOUT_SECONDS);
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({
          ResourceRequirements: [{ Type: "GPU", Value: "1" }],
          StopTimeout: STOP_TIMEOUT_SECONDS,
          HealthCheck: Match.objectLike({ Command: Match.arrayWith(["CMD", "node"]) }),
          Environment: Match.arrayWith([
            { Name: "EXECUTION_PROVIDERS", Value: "cuda,webgpu,cpu" },
            { Name: "MAX_RECEIVE_COUNT", Value: "4" },
            { Name: "SHUTDOWN_GRACE_SECONDS", Value: String(SHUTDOWN_GRACE_SECONDS) },
            // The worker binds loopback by default; the task opts into every interface to be scraped.
            { Name: "METRICS_HOST", Value: "0.0.0.0" },
          ]),
        }),
      ],
    });
  });

  it("scales the task count on the queue backlog, down to zero", () => {
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 0, MaxCapacity: 4 });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: BACKLOG_EXPRESSION })]),
    });
    // Summed over the three queues: six metrics (visible + in flight of each).
    expect(BACKLOG_EXPRESSION.split(" + ")).toHaveLength(6);
    template.resourceCountIs("AWS::ECS::CapacityProvider", 1);
  });
});

describe("the fleet an operator runs", () => {
  it("lets the task role set its own scale-in protection (the agent calls ECS with the task role)", () => {
    const taskDefinition = Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0] as {
      Properties: { TaskRoleArn: { "Fn::GetAtt": [string, string] } };
    };
    const taskRoleId = taskDefinition.Properties.TaskRoleArn["Fn::GetAtt"][0];
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: TASK_PROTECTION_ACTIONS })]) },
      },
    });
    const [policy] = Object.values(policies) as {
      Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: { Resource: unknown }[] } };
    }[];
    expect(Object.keys(policies)).toHaveLength(1);
    // Attached to the task role (not the execution or instance role), on task ARNs of this cluster only.
    expect(policy!.Properties.Roles).toEqual([{ Ref: taskRoleId }]);
    expect(JSON.stringify(policy!.Properties.PolicyDocument.Statement[0]!.Resource)).toMatch(
      /:task\/.*GpuWorkersCluster/,
    );
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: "TASK_PROTECTION_EXPIRES_IN_MINUTES", Value: String(TASK_PROTECTION_EXPIRES_IN_MINUTES) },
          ]),
        }),
      ],
    });
  });

  it("keeps capacity through a deployment and rolls back a failing one", () => {
    expect([MIN_HEALTHY_PERCENT, MAX_HEALTHY_PERCENT]).toEqual([100, 200]);
    template.hasResourceProperties("AWS::ECS::Service", {
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
    });
  });

  it("runs the GPU instances on the Amazon Linux 2023 ECS GPU AMI", () => {
    const json = JSON.stringify(template.toJSON());
    expect(json).toContain("/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id");
    expect(json).not.toContain("amazon-linux-2/");
    template.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({ ImageId: { Ref: Match.stringLikeRegexp("amazonlinux2023gpu") } }),
    });
  });
});

describe("the Cloudflare Access service token (cfAccessSecretArn)", () => {
  const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bd3-test/cf-access-token-AbC123";
  const containerOf = (stackTemplate: Template) =>
    (
      Object.values(stackTemplate.findResources("AWS::ECS::TaskDefinition"))[0] as {
        Properties: { ContainerDefinitions: { Secrets?: { Name: string; ValueFrom: string }[] }[] };
      }
    ).Properties.ContainerDefinitions[0]!;

  it("is not in the task without a secret: the workers then send no Access headers", () => {
    expect(containerOf(template).Secrets).toBeUndefined();
    expect(JSON.stringify(template.toJSON())).not.toContain("secretsmanager:GetSecretValue");
  });

  it("reaches the worker as CF_ACCESS_CLIENT_ID / CF_ACCESS_CLIENT_SECRET from Secrets Manager, never as a value", () => {
    const withToken = synth({ cfAccessSecretArn: SECRET_ARN });
    expect(containerOf(withToken).Secrets).toEqual([
      { Name: "CF_ACCESS_CLIENT_ID", ValueFrom: `${SECRET_ARN}:${CF_ACCESS_SECRET_KEYS.clientId}::` },
      { Name: "CF_ACCESS_CLIENT_SECRET", ValueFrom: `${SECRET_ARN}:${CF_ACCESS_SECRET_KEYS.clientSecret}::` },
    ]);
    const environment = (containerOf(withToken) as { Environment?: { Name: string }[] }).Environment ?? [];
    expect(environment.map((entry) => entry.Name).filter((name) => name.startsWith("CF_ACCESS"))).toEqual([]);
    // ECS reads the secret at task start with the execution role: allowed on this one secret only.
    const executionRoleId = (
      Object.values(withToken.findResources("AWS::ECS::TaskDefinition"))[0] as {
        Properties: { ExecutionRoleArn: { "Fn::GetAtt": [string, string] } };
      }
    ).Properties.ExecutionRoleArn["Fn::GetAtt"][0];
    withToken.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: executionRoleId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(["secretsmanager:GetSecretValue"]), Resource: SECRET_ARN }),
        ]),
      },
    });
  });

  it("refuses a secret ARN without its suffix (a JSON key needs the complete ARN)", () => {
    expect(() =>
      synth({ cfAccessSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bd3-test/cf-access-token" }),
    ).toThrow(/complete Secrets Manager ARN/);
  });
});

describe("backlogSteps", () => {
  it("maps the backlog to ceil(backlog / batch) tasks, capped", () => {
    expect(backlogSteps(8, 3)).toEqual([
      { upper: 1, change: 0 },
      { lower: 1, upper: 9, change: 1 },
      { lower: 9, upper: 17, change: 2 },
      { lower: 17, change: 3 },
    ]);
  });
});
