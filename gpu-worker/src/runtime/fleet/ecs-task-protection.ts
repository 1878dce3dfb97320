/**
 * ECS task scale-in protection: while this worker holds at least one job, it asks the ECS container agent
 * (`PUT ${ECS_AGENT_URI}/task-protection/v1/state`) to protect its task from scale-in and deployments, so ECS
 * removes idle tasks first and a running job does not pay a drain and a re-prefill elsewhere. It drops the
 * protection as soon as it holds none. (The agent calls ECS UpdateTaskProtection with the task role's
 * credentials, so the task role needs `ecs:UpdateTaskProtection`: infra/cdk/lib/gpu-worker-service.ts.)
 *
 * State: the protection wanted (held jobs > 0) and the one the agent last confirmed. One request at a time;
 * when it ends, whatever changed meanwhile is sent next, so the last word is always the current count. A
 * confirmed protection is renewed 5 min before it would lapse (`renewEveryMs`) for as long as jobs are held.
 * A failed request (agent down, 4xx/5xx, a `failure` or `error` in the reply) is logged and retried after
 * `retryAfterFailureMs`; it never reaches the caller: at worst the task is unprotected (the SIGTERM drain
 * still keeps every document) or stays protected until its expiry. Timers are unref'd.
 */
import type { Logger } from "../observability/logger.ts";

/** Path of the agent's task protection endpoint under ECS_AGENT_URI. */
export const TASK_PROTECTION_PATH = "/task-protection/v1/state";
/** ECS accepts 1..2880 minutes; the agent's default is 120. */
export const TASK_PROTECTION_EXPIRES_IN_MINUTES_MAX = 2_880;
/** Renew this long before a protection would lapse (or at half its length when that is shorter). */
export const TASK_PROTECTION_RENEW_BEFORE_EXPIRY_MS_DEFAULT = 5 * 60_000;
export const TASK_PROTECTION_RETRY_AFTER_FAILURE_MS_DEFAULT = 15_000;
/** The agent answers within its own 4 s ECS call timeout; give up on it a little later. */
export const TASK_PROTECTION_REQUEST_TIMEOUT_MS_DEFAULT = 6_000;

export interface EcsTaskProtectionOptions {
  /** ECS_AGENT_URI as ECS sets it, e.g. `http://169.254.170.2/api/<task id>`. */
  agentUri: string;
  expiresInMinutes: number;
  logger: Logger;
  /** How often a held protection is renewed; default: `expiresInMinutes` less 5 min (or half of it). */
  renewEveryMs?: number;
  retryAfterFailureMs?: number;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface EcsTaskProtection {
  /** The number of jobs this worker holds changed. Never throws, never waits. */
  onHeldJobs(heldJobs: number): void;
  /** Resolves once no request is in flight and nothing is left to send (or a failure waits for its retry). */
  settled(): Promise<void>;
  /** Stops renewing and retrying; waits for the request in flight. Later counts are ignored. */
  close(): Promise<void>;
}

interface AgentReply {
  failure?: { Reason?: string; Detail?: string };
  error?: { Code?: string; Message?: string };
}

export function createEcsTaskProtection(options: EcsTaskProtectionOptions): EcsTaskProtection {
  const { logger, expiresInMinutes } = options;
  const url = `${options.agentUri.replace(/\/+$/, "")}${TASK_PROTECTION_PATH}`;
  const fetchFn = options.fetch ?? fetch;
  const protectionMs = expiresInMinutes * 60_000;
  const renewEveryMs =
    options.renewEveryMs ?? protectionMs - Math.min(TASK_PROTECTION_RENEW_BEFORE_EXPIRY_MS_DEFAULT, protectionMs / 2);
  const retryAfterFailureMs = options.retryAfterFailureMs ?? TASK_PROTECTION_RETRY_AFTER_FAILURE_MS_DEFAULT;
  const requestTimeoutMs = options.requestTimeoutMs ?? TASK_PROTECTION_REQUEST_TIMEOUT_MS_DEFAULT;

  let isWanted = false;
  /** What the agent last confirmed; a new task starts unprotected. */
  let isProtected = false;
  let isRenewDue = false;
  let isClosed = false;
  let inFlight: Promise<void> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const settledWaiters = new Set<() => void>();

  const needsRequest = () =>
    !isClosed && retryTimer === undefined && (isWanted !== isProtected || (isWanted && isRenewDue));

  function notifySettled(): void {
    if (inFlight !== undefined || needsRequest()) return;
    for (const resolve of [...settledWaiters]) resolve();
    settledWaiters.clear();
  }

  async function put(isEnabled: boolean): Promise<void> {
    const body = isEnabled
      ? { ProtectionEnabled: true, ExpiresInMinutes: expiresInMinutes }
      : { ProtectionEnabled: false };
    const response = await fetchFn(url, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await response.text();
    let reply: AgentReply = {};
    try {
      reply = text === "" ? {} : (JSON.parse(text) as AgentReply);
    } catch {
      // A reply that is not JSON is judged by its status alone.
    }
    if (!response.ok || reply.failure !== undefined || reply.error !== undefined) {
      const reason = reply.failure?.Reason ?? reply.error?.Code ?? `HTTP ${response.status}`;
      const detail = reply.failure?.Detail ?? reply.error?.Message ?? text.slice(0, 200);
      throw new Error(`agent refused task protection: ${reason}${detail ? ` (${detail})` : ""}`);
    }
  }

  function sync(): void {
    if (inFlight !== undefined || !needsRequest()) {
      notifySettled();
      return;
    }
    const isEnabled = isWanted;
    isRenewDue = false;
    inFlight = put(isEnabled).then(
      () => {
        isProtected = isEnabled;
        clearTimeout(renewTimer);
        renewTimer = undefined;
        if (isEnabled && !isClosed) {
          renewTimer = setTimeout(() => {
            renewTimer = undefined;
            isRenewDue = true;
            sync();
          }, renewEveryMs);
          renewTimer.unref?.();
        }
        logger.debug(
          { protection_enabled: isEnabled, expires_in_minutes: isEnabled ? expiresInMinutes : undefined },
          "task protection set",
        );
      },
      (error: unknown) => {
        // Renewal failed while still wanted: try again, the old protection may still hold for a while.
        if (isEnabled && isProtected) isRenewDue = true;
        logger.warn(
          { err: error, protection_enabled: isEnabled, retry_in_ms: retryAfterFailureMs },
          "task protection update failed",
        );
        if (!isClosed) {
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            sync();
          }, retryAfterFailureMs);
          retryTimer.unref?.();
        }
      },
    );
    void inFlight.finally(() => {
      inFlight = undefined;
      sync();
    });
  }

  return {
    onHeldJobs(heldJobs) {
      if (isClosed) return;
      isWanted = heldJobs > 0;
      sync();
    },
    settled() {
      if (inFlight === undefined && !needsRequest()) return Promise.resolve();
      return new Promise((resolve) => settledWaiters.add(resolve));
    },
    async close() {
      isClosed = true;
      clearTimeout(renewTimer);
      clearTimeout(retryTimer);
      renewTimer = undefined;
      retryTimer = undefined;
      await inFlight;
      notifySettled();
    },
  };
}
