/**
 * Timeouts for a tracker's writes that cost no timer operation per write.
 *
 * `withTimeout` arms a timer per call and clears it when the promise settles:
 * two timers per flush, each created, inserted, cleared and its timer list torn
 * down again, on the path between a worker's update and the watchers seeing it.
 * Here one timer serves every pending deadline. It is armed for the earliest
 * one and, when it fires, expires what is due and re-arms for the rest. A
 * write every few milliseconds with a deadline seconds away thus never touches
 * it: its deadline lies past the armed one. Between writes nothing is pending
 * and the timer, still armed, holds the process no longer (unref).
 *
 * Times are monotonic (performance.now()), as a timer's own delay is: a wall
 * clock stepped back by NTP must not stretch a timeout.
 */
import { timeoutError } from "./timing";

/** setTimeout's longest delay; a longer one fires after 1 ms. */
export const MAX_TIMER_DELAY = 2_147_483_647;

/** A delay setTimeout keeps: at least 0, at most MAX_TIMER_DELAY (re-armed until due). */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_DELAY, Math.max(0, ms));
}

interface Pending {
  /** performance.now() at which it expires. */
  at: number;
  expire(): void;
}

export class Deadlines {
  readonly #pending = new Set<Pending>();
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (Infinity: none is armed). */
  #firesAt = Infinity;

  /**
   * Rejects with a TimeoutError when `promise` has not settled within `ms`; the
   * message names `option`, the setting that gave `ms` (as `withTimeout`).
   */
  race<T>(promise: Promise<T>, ms: number, what: string, option: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        at: performance.now() + ms,
        expire: () => reject(timeoutError(what, ms, option)),
      };
      this.#add(pending);
      promise.then(
        (value) => {
          this.#remove(pending);
          resolve(value);
        },
        (error: unknown) => {
          this.#remove(pending);
          reject(error);
        },
      );
    });
  }

  #add(pending: Pending): void {
    if (this.#pending.size === 0) this.#timer?.ref();
    this.#pending.add(pending);
    if (pending.at < this.#firesAt) this.#arm(pending.at);
  }

  #remove(pending: Pending): void {
    // An expired one was already removed; unref only on the last removal.
    if (this.#pending.delete(pending) && this.#pending.size === 0) this.#timer?.unref();
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#firesAt = at;
    this.#timer = setTimeout(() => this.#fire(), timerDelay(at - performance.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#firesAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const pending of this.#pending) {
      if (pending.at <= now) {
        this.#pending.delete(pending);
        pending.expire();
      } else if (pending.at < next) {
        next = pending.at;
      }
    }
    if (next !== Infinity) this.#arm(next);
  }
}
