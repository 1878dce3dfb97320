/**
 * KEDA objects: the ScaledObject that sizes the worker Deployment from the jobs queue (aws-sqs-queue trigger)
 * and the TriggerAuthentication it reads the queue with (KEDA's AWS pod identity: the operator's own IRSA /
 * EKS Pod Identity credentials, assuming a read-only scaler role; not the deprecated `identityOwner`).
 *
 * Replicas = ceil((visible + in flight) / MAX_BATCH_SIZE), the ECS service's formula: a worker holds at most
 * MAX_BATCH_SIZE messages, and a message is in flight while its job runs.
 */
import type { IScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import type { ITriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication";
import { type K8sSettings, LABELS } from "./settings.ts";

export const SQS_TRIGGER_TYPE = "aws-sqs-queue";

export function triggerAuthentication(settings: K8sSettings): ITriggerAuthentication {
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "TriggerAuthentication",
    metadata: { name: `${settings.name}-sqs`, namespace: settings.namespace, labels: LABELS },
    spec: { podIdentity: { provider: "aws", roleArn: settings.aws.scalerRoleArn } },
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
      triggers: [
        {
          type: SQS_TRIGGER_TYPE,
          authenticationRef: { name: `${settings.name}-sqs` },
          metadata: {
            // The worker's own SQS_QUEUE_URL (one place: an overlay that changes the env moves the trigger too).
            queueURLFromEnv: "SQS_QUEUE_URL",
            awsRegion: settings.aws.region,
            queueLength: String(settings.worker.maxBatchSize),
            activationQueueLength: String(scaling.activationQueueLength),
            // Running jobs count: their messages are in flight until finished, so no scale-in below them.
            scaleOnInFlight: "true",
            scaleOnDelayed: "false",
          },
        },
      ],
    },
  };
}
