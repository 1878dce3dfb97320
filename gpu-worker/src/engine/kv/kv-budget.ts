/**
 * Host KV budget across sequences. A sequence reserves the bytes of the most blocks it can ever hold when it
 * is admitted; "does not fit" is a null reservation the scheduler turns into a waiting request.
 */

export interface KvReservation {
  readonly bytes: number;
}

export class KvBudget {
  private inUse = 0;

  constructor(readonly budgetBytes: number) {}

  get bytesInUse(): number {
    return this.inUse;
  }

  /** Whether `bytes` could ever fit, even with nothing else reserved. */
  canEverFit(bytes: number): boolean {
    return bytes <= this.budgetBytes;
  }

  reserve(bytes: number): KvReservation | null {
    if (this.inUse + bytes > this.budgetBytes) return null;
    this.inUse += bytes;
    return { bytes };
  }

  release(reservation: KvReservation): void {
    this.inUse = Math.max(0, this.inUse - reservation.bytes);
  }
}
