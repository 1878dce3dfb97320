import { type Quota, QuotaSchema } from "@bd3-serve/shared";
import { z } from "zod";

/**
 * QUOTAS: the quotas of each tenant, as JSON: `{ "default": { "max_queued_jobs": 1000, "tokens_per_day":
 * null }, "tenants": { "tenant_a": { "tokens_per_day": 5000000, "max_running_jobs": 8 } } }`. A tenant's entry overrides the default
 * field by field; unset, every tenant gets QUOTA_DEFAULT. A bad value is a startup problem naming QUOTAS.
 */
export const QUOTA_DEFAULT: Quota = { max_queued_jobs: 1_000, tokens_per_day: null, max_running_jobs: null };

const PartialQuotaSchema = QuotaSchema.partial();
const QuotasSchema = z.strictObject({
  default: PartialQuotaSchema.optional(),
  tenants: z.record(z.string(), PartialQuotaSchema).optional(),
});

export interface QuotaConfig {
  defaults: Quota;
  tenants: Record<string, Partial<Quota>>;
}

export function parseQuotas(raw: string | undefined, problems: string[]): QuotaConfig {
  const fallback: QuotaConfig = { defaults: QUOTA_DEFAULT, tenants: {} };
  if (raw === undefined || raw.trim() === "") return fallback;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    problems.push("QUOTAS is not valid JSON");
    return fallback;
  }
  const parsed = QuotasSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problems.push(`QUOTAS is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "bad shape"}`);
    return fallback;
  }
  return { defaults: { ...QUOTA_DEFAULT, ...parsed.data.default }, tenants: parsed.data.tenants ?? {} };
}

export function quotaFor(config: QuotaConfig, tenantId: string): Quota {
  return { ...config.defaults, ...config.tenants[tenantId] };
}
