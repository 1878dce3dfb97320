import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EDGE_ACTIONS, WORKER_DLQ_ACTIONS, WORKER_JOB_QUEUE_ACTIONS } from "../cdk/lib/access.ts";
import { Bd3Stack } from "../cdk/lib/bd3-stack.ts";
import { backlogSteps, SHUTDOWN_GRACE_SECONDS, STOP_TIMEOUT_SECONDS } from "../cdk/lib/gpu-worker-service.ts";

let template: Template;
beforeAll(() => {
  const app = new App({ context: { "@aws-cdk/aws-autoscaling:generateLaunchTemplateInsteadOfLaunchConfig": true } });
  const stack = new Bd3Stack(app, "bd3-test", {
    stage: "test",
    edgeUrl: "https://edge.example",
    imageTag: "v1",
    maxReceiveCount: 4,
  });
  template = Template.fromStack(stack);
});

describe("bd3 stack", () => {
  it("dead-letters a job message after maxReceiveCount receives", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "bd3-test-jobs",
      VisibilityTimeout: 10,
      RedrivePolicy: { maxReceiveCount: 4, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: "bd3-test-jobs-dlq" });
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
      Metrics: Match.arrayWith([Match.objectLike({ Expression: "visible + inFlight" })]),
    });
    template.resourceCountIs("AWS::ECS::CapacityProvider", 1);
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
