/**
 * Operator counts (issue 17): generations created, responses by status class, SQS sends, webhook deliveries.
 *
 * Each count goes two ways:
 * - a data point in Workers Analytics Engine when the `METRICS` binding is there (production, staging: the
 *   dataset is queryable with SQL, across every isolate and location); its shape is fixed here, see
 *   `writePoint` (blob1 = counter, blob2 = outcome, blob3 = detail, double1 = 1, double2 = duration_ms, index1 =
 *   tenant id);
 * - a counter in this isolate's memory, read by `GET /v1/admin/metrics`. Those counters are per isolate: they
 *   start at zero whenever the isolate starts and cover only the requests and objects that ran in it. Queue sends
 *   and webhook deliveries happen inside job objects, which in production usually run in other isolates than the
 *   one answering the admin route, so there the route undercounts them: read them from Analytics Engine. (In
 *   local workerd the Worker and its objects share one isolate, so the route sees everything.)
 *
 * Recording never throws: a metrics failure must not fail a request or an alarm task.
 */

/** Every counter and the outcomes it is split by (the admin route lists them all, zeros included). */
export const COUNTERS = {
  generations_created: ["created"],
  responses: ["2xx", "3xx", "4xx", "5xx"],
  queue_sends: ["ok", "failed"],
  webhook_deliveries: ["succeeded", "retrying", "failed", "gave_up"],
} as const;

export type CounterName = keyof typeof COUNTERS;
export type Outcome<N extends CounterName> = (typeof COUNTERS)[N][number];

/** What a point may carry beyond its counter and outcome. */
export interface PointExtras {
  /** blob3: e.g. the HTTP status and method of a response. */
  detail?: string;
  /** double2: e.g. a response's duration in milliseconds. */
  value?: number;
  /** index1 (the sampling key): the tenant, when known. */
  tenantId?: string;
}

/** The slice of the bindings recording needs (the Worker's Env and the objects' Env both fit). */
export interface MetricsBinding {
  METRICS?: AnalyticsEngineDataset;
}

const counts = new Map<string, number>();
/** When this isolate recorded its first count (Date.now() at module scope would read 0 in workerd). */
let firstCountAt: number | null = null;

function writePoint(dataset: AnalyticsEngineDataset, name: string, outcome: string, extras: PointExtras): void {
  dataset.writeDataPoint({
    blobs: [name, outcome, extras.detail ?? ""],
    doubles: [1, extras.value ?? 0],
    indexes: [extras.tenantId ?? ""],
  });
}

/** Counts one event in this isolate and, when the binding exists, writes it to Analytics Engine. */
export function countEvent<N extends CounterName>(
  env: MetricsBinding,
  name: N,
  outcome: Outcome<N>,
  extras: PointExtras = {},
): void {
  firstCountAt ??= Date.now();
  const key = `${name}:${outcome}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  if (env.METRICS === undefined) return;
  try {
    writePoint(env.METRICS, name, outcome, extras);
  } catch (error) {
    console.warn(JSON.stringify({ event: "metrics_write_failed", counter: name, error: String(error) }));
  }
}

/** The status class counted for a response (anything below 300 is a 2xx: the edge never answers 1xx). */
export function statusClass(status: number): Outcome<"responses"> {
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

export type CounterSnapshot = { [N in CounterName]: Record<Outcome<N>, number> };

/** This isolate's counters, every outcome listed (zero when never seen). */
export function snapshotCounters(): { since: string | null; counters: CounterSnapshot } {
  const counters = Object.fromEntries(
    Object.entries(COUNTERS).map(([name, outcomes]) => [
      name,
      Object.fromEntries(outcomes.map((outcome) => [outcome, counts.get(`${name}:${outcome}`) ?? 0])),
    ]),
  ) as CounterSnapshot;
  return { since: firstCountAt === null ? null : new Date(firstCountAt).toISOString(), counters };
}
