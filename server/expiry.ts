/**
 * Retention in the gateway's held state. Redis prunes a job `retention` ms
 * after its last write, but only a script touching the scope publishes that
 * (and when the scope's key simply expires, nothing is published at all): a
 * scope the gateway holds would go on serving a pruned job to every client and
 * to /api/jobs. So the gateway drops a held job itself once `updated_at` +
 * `retention` has passed, as a fresh read would.
 */
import { expiresAt, type JobValue } from "../shared/job";

export { isExpired } from "../shared/job";

/** setTimeout's longest delay; a later time is reached in several steps. */
const MAX_TIMER = 2 ** 31 - 1;

/** One scope's timer, due when the first of its held jobs is pruned. */
export class ExpiryTimer {
  readonly #onDue: () => void;
  #at = Infinity;
  #timer: NodeJS.Timeout | undefined;

  /** @param onDue called when a held job may have expired; it calls `reset` with what is left. */
  constructor(onDue: () => void) {
    this.#onDue = onDue;
  }

  /** New or newer values: fire no later than the first of them expires. */
  watch(jobs: Iterable<JobValue | null>): void {
    let at = Infinity;
    for (const job of jobs) if (job !== null) at = Math.min(at, expiresAt(job));
    if (at < this.#at) this.#arm(at);
  }

  /** The held jobs changed wholesale (a snapshot, or expired ones dropped): re-arm for them. */
  reset(jobs: Iterable<JobValue>): void {
    this.clear();
    this.watch(jobs);
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#at = at;
    // Values only move their expiry later, so firing early just re-arms.
    const delay = Math.min(Math.max(0, at - Date.now()), MAX_TIMER);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.#onDue();
    }, delay);
    this.#timer.unref();
  }
}
