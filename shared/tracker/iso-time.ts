/**
 * `Date.prototype.toISOString()` for the write path: a job's updates fall on
 * the same day, so the date part is formatted once per day and the time of day
 * from integers. No Date is allocated per call, and the result is the same
 * text, character for character.
 */

const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z: past it, toISOString() writes six-digit years. */
export const LAST_ISO_MS = 253402300799999;

const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** One day's formatted date, reused while the times asked fall on it. */
export class IsoDay {
  #start = NaN;
  /** "YYYY-MM-DDT" of the day at #start. */
  #prefix = "";

  /** The ISO text of `ms` (ms since the epoch), as `new Date(ms).toISOString()`. */
  format(ms: number): string {
    if (!Number.isInteger(ms)) return new Date(ms).toISOString();
    let offset = ms - this.#start;
    if (!(offset >= 0 && offset < DAY_MS)) {
      if (ms < 0 || ms > LAST_ISO_MS) return new Date(ms).toISOString();
      this.#start = ms - (ms % DAY_MS);
      this.#prefix = new Date(this.#start).toISOString().slice(0, 11);
      offset = ms - this.#start;
    }
    const seconds = Math.floor(offset / 1000);
    const minutes = Math.floor(seconds / 60);
    return `${this.#prefix}${TWO[Math.floor(minutes / 60)] as string}:${TWO[minutes % 60] as string}:${TWO[seconds % 60] as string}.${THREE[offset % 1000] as string}Z`;
  }
}
