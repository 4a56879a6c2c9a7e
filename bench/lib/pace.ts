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

/** Spreads the calls over 1 ms timer turns; resolves when the time is up. */
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
        clearInterval(timer);
        resolve({ issued, rate: issued / ((nowUs() - start) / 1e6), maxBurst });
      }
    };
    const timer = setInterval(turn, 1);
  });
}
