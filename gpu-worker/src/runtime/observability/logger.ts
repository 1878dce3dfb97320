/**
 * Structured JSON logs (pino). Job-scoped lines come from `logger.child({ job_id })`, so every line about a job
 * carries its id and can be filtered on it.
 *
 * Redaction is a second guard: no code logs a credential on purpose (the "worker started" line says only
 * whether a service token is set), but a field added later, an error carrying its request, or a message body
 * must not put one in the logs. Two mechanisms, because pino's `redact` matches object paths only:
 * - `REDACTED_PATHS`: the job capability (`capability` of a queue message, `Authorization: Bearer <capability>`),
 *   the Cloudflare Access headers and settings, and the AWS secret, at the depths a log object here has them
 *   (the object itself, one level down such as `job.capability` or `err.headers`, and the parsed config).
 * - `redactBodyText`: the DLQ watcher and the invalid-message path log a queue message's body as text (up to
 *   2,000 characters, for the operator); its `"capability":"..."` is cut out before the line is written.
 */
import { type Logger, pino } from "pino";
import { CF_ACCESS_CLIENT_ID_HEADER, CF_ACCESS_CLIENT_SECRET_HEADER } from "../edge/access.ts";

export type { Logger };

/** What a redacted value reads as. */
export const REDACTED = "[Redacted]";

/** Header names as code writes them and as a `Headers` object lists them (lowercase). */
const SECRET_HEADERS = [
  "authorization",
  "Authorization",
  CF_ACCESS_CLIENT_ID_HEADER,
  CF_ACCESS_CLIENT_SECRET_HEADER,
  CF_ACCESS_CLIENT_ID_HEADER.toLowerCase(),
  CF_ACCESS_CLIENT_SECRET_HEADER.toLowerCase(),
];

/** Fields that hold a secret wherever they appear at the top of a log object or one level down. */
const SECRET_FIELDS = [
  "capability",
  "authorization",
  "Authorization",
  "CF_ACCESS_CLIENT_ID",
  "CF_ACCESS_CLIENT_SECRET",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "clientSecret",
  "secretAccessKey",
  "sessionToken",
];

export const REDACTED_PATHS: readonly string[] = [
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]),
  ...SECRET_HEADERS.flatMap((header) => [`headers["${header}"]`, `*.headers["${header}"]`]),
  // The parsed settings (config/worker-config.ts), logged whole or by group.
  "edge.accessServiceToken.clientSecret",
  "config.edge.accessServiceToken.clientSecret",
  "queue.credentials.secretAccessKey",
  "queue.credentials.sessionToken",
  "config.queue.credentials.secretAccessKey",
  "config.queue.credentials.sessionToken",
];

/** `"capability": "<anything up to the next quote, or the end of a cut-off body>"` in JSON text. */
const CAPABILITY_IN_TEXT = /("capability"\s*:\s*")[^"]*"?/g;

/** A message body logged as text, with the capability it carries cut out. */
export function redactBodyText(text: string): string {
  return text.replace(CAPABILITY_IN_TEXT, `$1${REDACTED}"`);
}

export function createLogger(options: {
  level: string;
  workerId: string;
  destination?: NodeJS.WritableStream;
}): Logger {
  return pino(
    {
      level: options.level,
      base: { worker_id: options.workerId },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => (typeof object.body === "string" ? { ...object, body: redactBodyText(object.body) } : object),
      },
    },
    options.destination ?? process.stdout,
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
