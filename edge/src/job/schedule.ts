/**
 * The alarm schedule of one Durable Object: a `schedule` table of named tasks with a due time, and ONE
 * storage alarm kept armed at the earliest due row. Tasks are idempotent and keyed by name (`stall`,
 * `expire`, `delivery:<id>`, ...), so re-scheduling a task moves it instead of duplicating it.
 */
export const SCHEDULE_TABLE_SQL = `CREATE TABLE IF NOT EXISTS schedule (
  task TEXT PRIMARY KEY,
  due_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS schedule_due ON schedule (due_at);`;

export interface ScheduledTask {
  task: string;
  dueAt: number;
}

export class Schedule {
  constructor(private readonly storage: DurableObjectStorage) {}

  set(task: string, dueAtMs: number): void {
    this.storage.sql.exec(
      "INSERT INTO schedule (task, due_at) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET due_at = excluded.due_at",
      task,
      Math.round(dueAtMs),
    );
  }

  /** Several tasks in one statement (a new job schedules four at once). */
  setMany(tasks: Readonly<Record<string, number>>): void {
    const entries = Object.entries(tasks);
    if (entries.length === 0) return;
    this.storage.sql.exec(
      `INSERT INTO schedule (task, due_at) VALUES ${entries.map(() => "(?, ?)").join(", ")}
       ON CONFLICT (task) DO UPDATE SET due_at = excluded.due_at`,
      ...entries.flatMap(([task, dueAtMs]) => [task, Math.round(dueAtMs)]),
    );
  }

  clear(task: string): void {
    this.storage.sql.exec("DELETE FROM schedule WHERE task = ?", task);
  }

  clearPrefix(prefix: string): void {
    this.storage.sql.exec("DELETE FROM schedule WHERE substr(task, 1, ?) = ?", prefix.length, prefix);
  }

  dueAt(task: string): number | null {
    const row = this.storage.sql
      .exec<{ due_at: number }>("SELECT due_at FROM schedule WHERE task = ?", task)
      .toArray()[0];
    return row ? row.due_at : null;
  }

  due(nowMs: number): ScheduledTask[] {
    return this.storage.sql
      .exec<{ task: string; due_at: number }>(
        "SELECT task, due_at FROM schedule WHERE due_at <= ? ORDER BY due_at",
        nowMs,
      )
      .toArray()
      .map((row) => ({ task: row.task, dueAt: row.due_at }));
  }

  /**
   * Arms the alarm of an object whose whole schedule the caller just wrote (a new job): the earliest of
   * `tasks`, without reading the table or the current alarm back.
   */
  async armNew(tasks: Readonly<Record<string, number>>): Promise<void> {
    await this.storage.setAlarm(Math.round(Math.min(...Object.values(tasks))));
  }

  /** Points the storage alarm at the earliest due task, or removes it when nothing is scheduled. */
  async arm(): Promise<void> {
    const row = this.storage.sql.exec<{ next: number | null }>("SELECT MIN(due_at) AS next FROM schedule").one();
    const current = await this.storage.getAlarm();
    if (row.next === null) {
      if (current !== null) await this.storage.deleteAlarm();
    } else if (current !== row.next) {
      await this.storage.setAlarm(row.next);
    }
  }
}
