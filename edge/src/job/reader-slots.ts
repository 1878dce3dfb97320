/**
 * Live readers of one job (SSE on `/stream`, SSE and long-poll on `/text`), counted in the job's Durable
 * Object, and the tenant slots (tenant/reader-slots.ts) those readers hold.
 *
 * State, in memory on purpose: a Durable Object is single-threaded (no two requests change the count at
 * once) and its open connections die with it, so the count can never outlive the readers it counts.
 * Catch-up reads are not counted: they finish at once and each is a rate-limited request already.
 *
 * Lifecycle: a reader takes a job slot before its body is built and frees it when the body ends, fails or
 * is cancelled by a client that went (`holdUntilBodyEnds`). The tenant slots of the job's live readers are
 * leases in the tenant's object: while any is held one timer renews them all in a single call every
 * `renewEveryMs`, so a reader that stays connected (however slowly it reads) keeps its slot, and the slots
 * of an object that crashed stop being renewed and expire on their own.
 */
export class ReaderSlots {
  private numReaders = 0;
  private readonly tenantSlotIds = new Set<string>();
  private renewTimer: ReturnType<typeof setInterval> | null = null;

  /** Live readers of this job now. */
  get count(): number {
    return this.numReaders;
  }

  /** Tenant slots this job's readers hold now. */
  get numTenantSlots(): number {
    return this.tenantSlotIds.size;
  }

  /** A release function (idempotent), or null when `max` readers are live. */
  tryAcquire(max: number): (() => void) | null {
    if (this.numReaders >= max) return null;
    this.numReaders++;
    return once(() => {
      this.numReaders--;
    });
  }

  /**
   * Keeps `slotId` (a tenant slot) renewed, with the job's other held slots, until the returned function is
   * called (idempotent). `renew` gets every held slot id; its failures are the caller's to log.
   */
  holdTenantSlot(slotId: string, renew: (slotIds: string[]) => void, renewEveryMs: number): () => void {
    this.tenantSlotIds.add(slotId);
    this.renewTimer ??= setInterval(() => {
      if (this.tenantSlotIds.size > 0) renew([...this.tenantSlotIds]);
    }, renewEveryMs);
    return once(() => {
      this.tenantSlotIds.delete(slotId);
      if (this.tenantSlotIds.size === 0 && this.renewTimer !== null) {
        clearInterval(this.renewTimer);
        this.renewTimer = null;
      }
    });
  }
}

function once(action: () => void): () => void {
  let isDone = false;
  return () => {
    if (isDone) return;
    isDone = true;
    action();
  };
}

/**
 * The response with `release` called once its body has ended, failed or been cancelled by the client, or
 * once `signal` (the request's) aborts; at once when it has no body. The wrapper is pull-based with no
 * buffer of its own (highWaterMark 0), so the reader's pace still reaches the body underneath.
 */
export function holdUntilBodyEnds(response: Response, release: () => void, signal?: AbortSignal): Response {
  const { body } = response;
  if (body === null) {
    release();
    return response;
  }
  signal?.addEventListener("abort", release, { once: true });
  const reader = body.getReader();
  const wrapped = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            release();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          release();
          controller.error(error);
        }
      },
      async cancel(reason) {
        release();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(wrapped, { status: response.status, statusText: response.statusText, headers: response.headers });
}
