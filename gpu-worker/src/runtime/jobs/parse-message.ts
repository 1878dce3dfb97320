/**
 * Turns an SQS message body into a job, or into the reason it cannot run. A body that is not a valid job but
 * still carries `job_id` + `capability` (the envelope) can be failed on the edge; one without them cannot.
 */
import {
  JOB_MESSAGE_VERSION,
  type JobMessage,
  type JobMessageEnvelope,
  JobMessageEnvelopeSchema,
  JobMessageSchema,
} from "@bd3-serve/shared";

export type ParsedMessage =
  | { kind: "job"; job: JobMessage }
  | {
      kind: "invalid";
      /** Present when the job can be failed on the edge. */
      envelope: JobMessageEnvelope | undefined;
      code: "invalid_message" | "unsupported_message_version";
      reason: string;
    };

export function parseJobMessage(body: string): ParsedMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: "invalid", envelope: undefined, code: "invalid_message", reason: "message body is not JSON" };
  }
  const parsed = JobMessageSchema.safeParse(json);
  if (parsed.success) return { kind: "job", job: parsed.data };
  const envelope = JobMessageEnvelopeSchema.safeParse(json);
  const version = envelope.success ? envelope.data.version : undefined;
  if (envelope.success && version !== JOB_MESSAGE_VERSION) {
    return {
      kind: "invalid",
      envelope: envelope.data,
      code: "unsupported_message_version",
      reason: `queue message version ${JSON.stringify(version)} is not supported (this worker reads ${JOB_MESSAGE_VERSION})`,
    };
  }
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
  return {
    kind: "invalid",
    envelope: envelope.success ? envelope.data : undefined,
    code: "invalid_message",
    reason: `queue message does not parse: ${issues}`,
  };
}

/** The body of the continuation of `job`: the same job, re-enqueued once more. */
export function continuationBody(job: JobMessage): string {
  return JSON.stringify({ ...job, continuation: job.continuation + 1 });
}

/**
 * Whether the message's job is past its start deadline (`start_by`, from the create's `ttl_seconds`): such a
 * message is deleted without a lease, since the edge expires the job on its own alarm and must never see it
 * start. Messages from older edges carry no deadline.
 */
export function isPastStartDeadline(job: JobMessage, nowMs: number): boolean {
  return job.start_by !== undefined && Date.parse(job.start_by) <= nowMs;
}
