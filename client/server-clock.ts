/**
 * An estimate of the clock that stamps jobs (the workers' clocks, which NTP
 * keeps together), from the `updated_at` of live updates. Stalled marking and
 * "time left" compare job timestamps with "now"; a browser whose clock is off
 * by a minute would otherwise see every job stalled, or wrong times left.
 *
 * Each live value gives `local - server` = skew + network latency, so the
 * minimum over recent samples is the best estimate of the skew (NTP's filter).
 */
const SAMPLES = 16;

export class ServerClock {
  #samples: number[] = [];
  #offset = 0;

  /** Records a live update stamped `serverMs` (its `updated_at`) that arrived at `localMs`. */
  sample(serverMs: number, localMs: number = Date.now()): void {
    if (!Number.isFinite(serverMs)) return;
    this.#samples.push(localMs - serverMs);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    this.#offset = Math.min(...this.#samples);
  }

  /** Milliseconds the local clock is ahead of the server's (0 until a live update arrived). */
  get offset(): number {
    return this.#offset;
  }

  /** The estimated server time, in ms since the epoch. */
  now(localMs: number = Date.now()): number {
    return localMs - this.#offset;
  }
}
