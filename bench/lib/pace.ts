/** A steady-rate driver: calls `fn(i)` `rate` times per second for `seconds`, catching up after a stall. */
import { nowUs } from "./stats";

export interface PaceResult {
  /** Calls made. */
  issued: number;
  /** Calls per second achieved. */
  rate: number;
  /** Largest number of calls made in one timer turn (a stall shows as a burst). */
  maxBurst: number;
}

/**
 * Makes the calls that are due, then sleeps until the next one is (at least
 * 1 ms: above 1,000 calls/s a turn makes several); resolves when the time is
 * up. A timer every millisecond whatever the rate cost 4.8% of a core on the
 * 2-core VM, in the process under test when it is the bare server's pacer.
 */
export function pace(rate: number, seconds: number, fn: (i: number) => void): Promise<PaceResult> {
  return new Promise((resolve) => {
    const start = nowUs();
    const end = start + seconds * 1e6;
    const total = Math.floor(rate * seconds);
    let issued = 0;
    let maxBurst = 0;
    const turn = () => {
      const now = nowUs();
      const due = Math.min(total, Math.floor(((now - start) / 1e6) * rate));
      const burst = due - issued;
      if (burst > maxBurst) maxBurst = burst;
      while (issued < due) fn(issued++);
      if (now >= end || issued >= total) {
        resolve({ issued, rate: issued / ((nowUs() - start) / 1e6), maxBurst });
        return;
      }
      // The next call is due at start + (issued + 1) / rate; a timer never fires early.
      const next = start + ((issued + 1) / rate) * 1e6;
      setTimeout(turn, Math.max(1, Math.ceil((Math.min(next, end) - nowUs()) / 1000)));
    };
    setTimeout(turn, 1);
  });
}
