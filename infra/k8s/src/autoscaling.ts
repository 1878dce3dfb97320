/**
 * KEDA objects: the ScaledObject that sizes the worker Deployment from the jobs queues (one aws-sqs-queue
 * trigger per priority's queue) and the TriggerAuthentication it reads them with (KEDA's AWS pod identity:
 * the operator's own EKS Pod Identity / IRSA credentials, whose role may only read the queues' attributes;
 * no `roleArn` to assume, not the deprecated `identityOwner`).
 *
 * Replicas = ceil((visible + in flight, summed over the queues) / MAX_BATCH_SIZE), the ECS service's formula:
 * a worker holds at most MAX_BATCH_SIZE messages of any priority, and a message is in flight while its job
 * runs. The sum is KEDA's scalingModifiers formula over the named triggers: without it the HPA would take the
 * largest trigger's count alone, too few replicas when the jobs are spread over the queues.
 */
import type { IScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import type { ITriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { type K8sSettings, LABELS } from "./settings.ts";

export const SQS_TRIGGER_TYPE = "aws-sqs-queue";

/** The scalingModifiers formula: every queue's depth (visible + in flight), summed. */
export function backlogFormula(settings: K8sSettings): string {
  return settings.aws.jobsQueues.map((queue) => queue.name).join(" + ");
}

export function triggerAuthentication(settings: K8sSettings): ITriggerAuthentication {
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "TriggerAuthentication",
    metadata: { name: `${settings.name}-sqs`, namespace: settings.namespace, labels: LABELS },
    // No roleArn: the operator's own role (the CDK's KedaOperatorRole, bound to KEDA's service account) reads
    // the queues. An operator whose KEDA assumes a role per application adds `roleArn` in an overlay.
    spec: { podIdentity: { provider: "aws" } },
  };
}

export function scaledObject(settings: K8sSettings): IScaledObject {
  const { scaling } = settings;
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name: settings.name, namespace: settings.namespace, labels: LABELS },
    spec: {
      scaleTargetRef: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: settings.name,
        envSourceContainerName: settings.containerName,
      },
      minReplicaCount: scaling.minReplicas,
      maxReplicaCount: scaling.maxReplicas,
      pollingInterval: scaling.pollingIntervalSeconds,
      cooldownPeriod: scaling.cooldownPeriodSeconds,
      advanced: {
        scalingModifiers: {
          formula: backlogFormula(settings),
          target: String(settings.worker.maxBatchSize),
          activationTarget: String(scaling.activationQueueLength),
          metricType: "AverageValue",
        },
        horizontalPodAutoscalerConfig: {
          behavior: {
            // Scale-in drains a pod (its jobs resume elsewhere): hold a lower count a while, then one pod a minute.
            scaleDown: {
              stabilizationWindowSeconds: scaling.scaleDownStabilizationSeconds,
              policies: [{ type: "Pods", value: scaling.scaleDownPodsPerMinute, periodSeconds: 60 }],
              selectPolicy: "Max",
            },
          },
        },
      },
      triggers: settings.aws.jobsQueues.map((queue) => ({
        type: SQS_TRIGGER_TYPE,
        // The formula's name for this queue's depth.
        name: queue.name,
        authenticationRef: { name: `${settings.name}-sqs` },
        metadata: {
          // One of the worker's SQS_QUEUE_URLS (settings.ts names both, so they cannot drift apart).
          queueURL: queue.url,
          awsRegion: settings.aws.region,
          queueLength: String(settings.worker.maxBatchSize),
          activationQueueLength: String(scaling.activationQueueLength),
          // Running jobs count: their messages are in flight until finished, so no scale-in below them.
          scaleOnInFlight: "true",
          scaleOnDelayed: "false",
        },
      })),
    },
  };
}
