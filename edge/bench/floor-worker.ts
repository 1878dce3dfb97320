import { DurableObject } from "cloudflare:workers";

/**
 * The floor of the create benchmark: the least a create can do in a design with one Durable Object per job.
 * It parses the same body, starts a new SQLite-backed object, creates one table, inserts one row and arms one
 * alarm (a job's durable intent), then answers 202: no auth, no quota, no index, no queue. The gap from the
 * bare route to this is the price of the design; the gap from this to the real create is the edge's own.
 */
interface FloorEnv {
  FLOOR: DurableObjectNamespace<FloorObject>;
}

const ALARM_DELAY_MS = 60_000;

export class FloorObject extends DurableObject<FloorEnv> {
  create(prompt: string): string {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS job (id TEXT PRIMARY KEY, prompt TEXT NOT NULL, created_at INTEGER)");
    const id = this.ctx.id.toString();
    sql.exec("INSERT INTO job (id, prompt, created_at) VALUES (?, ?, ?)", id, prompt, Date.now());
    void this.ctx.storage.setAlarm(Date.now() + ALARM_DELAY_MS);
    return id;
  }

  override alarm(): void {}
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const body = (await request.json()) as { prompt?: string };
    const stub = env.FLOOR.get(env.FLOOR.newUniqueId());
    const id = await stub.create(body.prompt ?? "");
    return Response.json({ id: `gen_${id}`, object: "generation", status: "queued" }, { status: 202 });
  },
} satisfies ExportedHandler<FloorEnv>;
