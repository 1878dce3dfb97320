/** ORT profiler output of a few session runs, summarised: node placement per provider and time per op type. */
import { readFileSync } from "node:fs";

export interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; provider?: string };
}

/** Node placement per provider and the op types that took the most time, from ORT's profiler JSON. */
export function summariseProfile(path: string, runs: number): Record<string, unknown> {
  const events = JSON.parse(readFileSync(path, "utf8")) as ProfileEvent[];
  const providers = new Map<string, { nodes: Set<string>; us: number }>();
  const ops = new Map<string, { us: number; calls: number }>();
  let runUs = 0;
  for (const event of events) {
    if (event.cat === "Session" && event.name === "model_run") runUs += event.dur ?? 0;
    if (event.cat !== "Node" || !event.name?.endsWith("_kernel_time")) continue;
    const provider = event.args?.provider ?? "?";
    const entry = providers.get(provider) ?? { nodes: new Set<string>(), us: 0 };
    entry.nodes.add(event.name);
    entry.us += event.dur ?? 0;
    providers.set(provider, entry);
    const key = `${event.args?.op_name ?? "?"}@${provider}`;
    const op = ops.get(key) ?? { us: 0, calls: 0 };
    op.us += event.dur ?? 0;
    op.calls++;
    ops.set(key, op);
  }
  return {
    task: "profile",
    runs,
    msPerRunInProfiler: runUs / 1_000 / Math.max(1, runs),
    providers: Object.fromEntries(
      [...providers].map(([name, entry]) => [
        name,
        { nodes: entry.nodes.size, msPerRun: entry.us / 1_000 / Math.max(1, runs) },
      ]),
    ),
    topOps: [...ops]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 20)
      .map(([key, op]) => ({
        op: key,
        msPerRun: op.us / 1_000 / Math.max(1, runs),
        callsPerRun: op.calls / Math.max(1, runs),
      })),
    note: "kernel times are host-side (a WebGPU kernel's time is its dispatch, not its GPU time)",
  };
}
