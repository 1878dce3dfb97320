import { type JobStatus, JobStatusSchema, type SamplingStrategy, SamplingStrategySchema } from "@bd3-serve/shared";
import { InvalidArgumentError } from "commander";

/** A commander option parser for an integer of at least `min`. */
export function intOption(min: number): (raw: string) => number {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError("not an integer.");
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(`must be an integer >= ${min}.`);
    return value;
  };
}

export function strategyOption(raw: string): SamplingStrategy {
  const parsed = SamplingStrategySchema.safeParse(raw);
  if (!parsed.success) throw new InvalidArgumentError(`one of ${SamplingStrategySchema.options.join(", ")}.`);
  return parsed.data;
}

export function statusOption(raw: string): JobStatus {
  const parsed = JobStatusSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidArgumentError(`one of ${JobStatusSchema.options.join(", ")}.`);
  return parsed.data;
}
