/**
 * The Kubernetes names other code must agree with, and nothing else (no imports), so the CDK app reads them
 * without loading the manifest generator: its EKS Pod Identity associations bind IAM roles to exactly the
 * namespace and service accounts these manifests create (cdk/lib/eks-pod-identity.ts).
 */

/** The namespace of every object the generator writes. */
export const WORKER_NAMESPACE = "bd3";
/** The worker's Deployment, ServiceAccount (the one its pods run as), PodDisruptionBudget, ScaledObject. */
export const WORKER_NAME = "bd3-gpu-worker";
/**
 * KEDA's operator, which reads the queues' depth with its own identity (the TriggerAuthentication's
 * `podIdentity: { provider: aws }`): the namespace and service account of KEDA's Helm chart defaults. The
 * generator does not create them; change both here if KEDA was installed elsewhere.
 */
export const KEDA_OPERATOR_NAMESPACE = "keda";
export const KEDA_OPERATOR_SERVICE_ACCOUNT = "keda-operator";
/**
 * The Secret holding the worker's Cloudflare Access service token (keys `client_id`, `client_secret`), made
 * by the operator (`kubectl create secret generic`), never generated: the Deployment reads it if it exists.
 * The ECS task reads the same two keys from its Secrets Manager secret (cdk/lib/gpu-worker-service.ts).
 */
export const CF_ACCESS_SECRET_NAME = `${WORKER_NAME}-cf-access`;
export const CF_ACCESS_SECRET_KEYS = { clientId: "client_id", clientSecret: "client_secret" } as const;
