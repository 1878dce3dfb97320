/**
 * What the job objects may call on a queue ledger through its stub (env.ts types `QUEUE_LEDGER` by this, not
 * by the class). QueueLedger implements it (bindings-conformance.ts checks that); the shapes of its
 * arguments and answers live here with it, a leaf of types that imports nothing.
 */
export interface QueueLedgerRpc extends Rpc.DurableObjectBranded {
  /** The job's ticket (the one it already holds on a retry) and its place. */
  take(request: TakeRequest): TakenTicket;
  /** Where a ticket stands; null once it was settled (started, ended, or dropped as stale). */
  place(ticket: number): QueuePlace | null;
  /** The ticket's job left the queue; idempotent. */
  settle(request: SettleRequest): void;
}

/** Where a waiting ticket stands. */
export interface QueuePlace {
  /** Tickets of this queue taken before it and not yet started or ended. */
  position: number;
  /** From the moving average of the time between starts; null before the first start was seen. */
  estimatedStartAtMs: number | null;
}

export interface TakeRequest {
  jobId: string;
  /** The job's start deadline: past it (plus STALE_TICKET_GRACE_MS) the ticket is dropped. */
  startByMs: number;
}

export type TakenTicket = { ticket: number } & QueuePlace;

export interface SettleRequest {
  ticket: number;
  /** True when a worker leased the job (a start, counted in the start rate); false when it ended queued. */
  isStarted: boolean;
}
