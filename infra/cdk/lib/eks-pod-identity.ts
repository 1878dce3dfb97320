/**
 * The IAM side of the Kubernetes path (infra/k8s/) on EKS with Pod Identity: two roles and the associations
 * that bind them to service accounts. Opt-in: the stack adds it only when given an EKS cluster name
 * (`-c eksClusterName=<cluster>`); the cluster itself, its Pod Identity agent add-on and KEDA are not made here.
 *
 * - The worker's role: the same managed policy as the ECS task role (access.ts: exactly the worker's SQS calls
 *   on its jobs queues and DLQ), bound to the worker's ServiceAccount in the generator's namespace.
 * - KEDA's operator role: only `sqs:GetQueueAttributes` on the jobs queues (the depth it scales on), bound
 *   to KEDA's own ServiceAccount, so the scaler can never receive or delete a job.
 *
 * Each role trusts `pods.eks.amazonaws.com` (sts:AssumeRole + sts:TagSession, as Pod Identity requires), and
 * only for its own cluster, namespace and service account: the session tags Pod Identity sets when it assumes
 * the role (kept on: `disableSessionTags: false`) are conditions of the trust, so an association elsewhere in
 * the account cannot borrow either role. The names come from infra/k8s/src/names.ts, which the manifests use.
 */
import { ArnFormat, CfnOutput, Stack } from "aws-cdk-lib";
import { CfnPodIdentityAssociation } from "aws-cdk-lib/aws-eks";
import { type IManagedPolicy, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import {
  KEDA_OPERATOR_NAMESPACE,
  KEDA_OPERATOR_SERVICE_ACCOUNT,
  WORKER_NAME,
  WORKER_NAMESPACE,
} from "../../k8s/src/names.ts";
import { QUEUE_DEPTH_READER_ACTIONS } from "./access.ts";
import type { JobQueues } from "./job-queues.ts";

/** The service principal of EKS Pod Identity and the two actions its trust must allow. */
export const POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com";
export const POD_IDENTITY_TRUST_ACTIONS = ["sts:AssumeRole", "sts:TagSession"];

/** A Kubernetes service account an association binds a role to. */
export interface ServiceAccountRef {
  namespace: string;
  serviceAccount: string;
}

export const WORKER_SERVICE_ACCOUNT: ServiceAccountRef = { namespace: WORKER_NAMESPACE, serviceAccount: WORKER_NAME };
export const KEDA_OPERATOR: ServiceAccountRef = {
  namespace: KEDA_OPERATOR_NAMESPACE,
  serviceAccount: KEDA_OPERATOR_SERVICE_ACCOUNT,
};

export interface EksPodIdentityProps {
  /** The EKS cluster (same account and region as the stack) whose pods get the roles. */
  clusterName: string;
  queues: JobQueues;
  /** The workers' queue policy (QueueAccess.workerPolicy), shared with the ECS task role. */
  workerPolicy: IManagedPolicy;
  /** Defaults: the generator's worker ServiceAccount, and KEDA's Helm chart defaults. */
  worker?: ServiceAccountRef;
  kedaOperator?: ServiceAccountRef;
}

export class EksPodIdentity extends Construct {
  readonly workerRole: Role;
  readonly kedaOperatorRole: Role;

  constructor(scope: Construct, id: string, props: EksPodIdentityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const clusterArn = stack.formatArn({
      service: "eks",
      resource: "cluster",
      resourceName: props.clusterName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const worker = props.worker ?? WORKER_SERVICE_ACCOUNT;
    const keda = props.kedaOperator ?? KEDA_OPERATOR;
    const podRole = (roleId: string, account: ServiceAccountRef, description: string) =>
      new Role(this, roleId, {
        description,
        assumedBy: new ServicePrincipal(POD_IDENTITY_PRINCIPAL, {
          conditions: {
            StringEquals: {
              "aws:RequestTag/eks-cluster-arn": clusterArn,
              "aws:RequestTag/kubernetes-namespace": account.namespace,
              "aws:RequestTag/kubernetes-service-account": account.serviceAccount,
            },
          },
        }).withSessionTags(),
      });

    this.workerRole = podRole(
      "WorkerRole",
      worker,
      `bd3 GPU worker pods (${worker.namespace}/${worker.serviceAccount}): jobs queues + DLQ`,
    );
    this.workerRole.addManagedPolicy(props.workerPolicy);

    this.kedaOperatorRole = podRole(
      "KedaOperatorRole",
      keda,
      `KEDA operator (${keda.namespace}/${keda.serviceAccount}): read the bd3 jobs queues' depth`,
    );
    this.kedaOperatorRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: QUEUE_DEPTH_READER_ACTIONS,
        resources: props.queues.highFirst.map((queue) => queue.queueArn),
      }),
    );

    const associate = (associationId: string, role: Role, account: ServiceAccountRef) =>
      new CfnPodIdentityAssociation(this, associationId, {
        clusterName: props.clusterName,
        namespace: account.namespace,
        serviceAccount: account.serviceAccount,
        roleArn: role.roleArn,
        // The trust conditions read the session tags: they must stay on.
        disableSessionTags: false,
      });
    associate("WorkerAssociation", this.workerRole, worker);
    associate("KedaOperatorAssociation", this.kedaOperatorRole, keda);

    new CfnOutput(stack, "EksWorkerRoleArn", {
      value: this.workerRole.roleArn,
      description: `bound to ${worker.namespace}/${worker.serviceAccount} on ${props.clusterName} (Pod Identity)`,
    });
    new CfnOutput(stack, "EksKedaOperatorRoleArn", {
      value: this.kedaOperatorRole.roleArn,
      description: `bound to ${keda.namespace}/${keda.serviceAccount} on ${props.clusterName} (Pod Identity)`,
    });
  }
}
