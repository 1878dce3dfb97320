/**
 * Structured JSON logs (pino). Job-scoped lines come from `logger.child({ job_id })`, so every line about a job
 * carries its id and can be filtered on it.
 */
import { type Logger, pino } from "pino";

export type { Logger };

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
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
