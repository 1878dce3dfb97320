import { describe, expect, it } from "vitest";
import { jobCapability, verifyCapability } from "./capability.ts";
import { capabilityKeys, capabilitySecrets } from "./capability-secrets.ts";
import { mintStreamToken, verifyStreamToken } from "./stream-token.ts";

const OLD = "old-capability-secret-0123456789abcdef";
const NEW = "new-capability-secret-0123456789abcdef";
const NOW_MS = Date.UTC(2026, 11, 1);
const settings = (previous: string | null) => ({
  capabilitySecret: NEW,
  capabilityPreviousSecret: previous,
  capabilityLegacyUntilMs: null,
});

describe("capability secrets", () => {
  it("is the current secret alone when no rotation runs", () => {
    expect(capabilitySecrets(capabilityKeys(settings(null)))).toEqual([NEW]);
  });

  it("adds the previous secret, after the current one, while the overlap lasts", () => {
    const keys = capabilityKeys(settings(OLD));
    expect(keys).toEqual({ current: NEW, previous: OLD, legacyUntilMs: null });
    expect(capabilitySecrets(keys)).toEqual([NEW, OLD]);
  });

  it("drops the previous secret once the overlap ends (unset, or set empty)", () => {
    expect(capabilitySecrets({ current: NEW, previous: null })).toEqual([NEW]);
    expect(capabilitySecrets({ current: NEW, previous: "" })).toEqual([NEW]);
  });

  it("gives capabilities and stream tokens the same rule: the old secret verifies in the overlap, not after", async () => {
    const capability = await jobCapability(OLD, "job_1", NOW_MS + 3_600_000);
    const { token } = await mintStreamToken(OLD, "tenant_1", "job_1", NOW_MS);
    const during = capabilityKeys(settings(OLD));
    const after = capabilityKeys(settings(null));
    expect(await verifyCapability(during, "job_1", capability, NOW_MS)).toEqual({ ok: true });
    expect(await verifyStreamToken(during, "job_1", token, NOW_MS)).toBe("tenant_1");
    expect(await verifyCapability(after, "job_1", capability, NOW_MS)).toEqual({ ok: false, reason: "invalid" });
    expect(await verifyStreamToken(after, "job_1", token, NOW_MS)).toBeNull();
  });
});
