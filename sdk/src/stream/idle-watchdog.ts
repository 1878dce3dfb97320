/**
 * Aborts a connection that has been silent for `timeoutMs` (a half-open TCP connection never errors on its
 * own). The server sends a keep-alive comment every 15 s by default, so any SSE item, comment included,
 * proves the connection alive and re-arms the timer.
 */
export class IdleWatchdog {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #hasFired = false;
  readonly #timeoutMs: number;
  readonly #onIdle: () => void;

  constructor(timeoutMs: number, onIdle: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onIdle = onIdle;
    this.kick();
  }

  get hasFired(): boolean {
    return this.#hasFired;
  }

  /** Something arrived: start the silence count again. */
  kick(): void {
    this.stop();
    this.#timer = setTimeout(() => {
      this.#hasFired = true;
      this.#onIdle();
    }, this.#timeoutMs);
  }

  stop(): void {
    // Workers' clearTimeout takes `number | null`, not undefined (edge/test/sdk-in-workerd.test.ts type-checks it).
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
