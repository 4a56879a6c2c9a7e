/**
 * Times and counts as words, through Intl (no date library): "about 2 minutes
 * left", "finished 3 minutes ago", "1,250 / 4,000".
 */
import { fill, type Labels } from "./labels";

type Unit = "second" | "minute" | "hour" | "day";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const formatters = new Map<string, Intl.NumberFormat | Intl.RelativeTimeFormat>();

function cached<T extends Intl.NumberFormat | Intl.RelativeTimeFormat>(
  key: string,
  make: () => T,
): T {
  let formatter = formatters.get(key) as T | undefined;
  if (formatter === undefined) {
    formatter = make();
    formatters.set(key, formatter);
  }
  return formatter;
}

/**
 * The unit and rounded amount a person would use for a duration: seconds in
 * tens below 55 s, then minutes below 90 min, hours below 36 h, then days.
 */
export function roughDuration(ms: number): [number, Unit] {
  if (ms < 55 * SECOND) return [Math.max(10, Math.round(ms / (10 * SECOND)) * 10), "second"];
  if (ms < 90 * MINUTE) return [Math.max(1, Math.round(ms / MINUTE)), "minute"];
  if (ms < 36 * HOUR) return [Math.round(ms / HOUR), "hour"];
  return [Math.round(ms / DAY), "day"];
}

/** "about 2 minutes left"; "a few seconds left" below 10 s (and for an ETA already past). */
export function timeLeft(ms: number, labels: Labels, locale?: string): string {
  if (ms < 10 * SECOND) return labels.fewSeconds;
  const [amount, unit] = roughDuration(ms);
  const words = cached(
    `n:${locale}:${unit}`,
    () => new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long" }),
  ).format(amount);
  return fill(labels.timeLeft, { time: words });
}

/** "3 minutes ago" (Intl.RelativeTimeFormat), or the `justNow` label below 10 s. */
export function ago(ms: number, labels: Labels, locale?: string): string {
  if (ms < 10 * SECOND) return labels.justNow;
  const rtf = cached(`r:${locale}`, () => new Intl.RelativeTimeFormat(locale, { numeric: "auto" }));
  const [amount, unit] = roughDuration(ms);
  return rtf.format(-amount, unit);
}

/** A count in the locale's digits: 1,250. */
export function formatCount(value: number, locale?: string): string {
  return cached(`c:${locale}`, () => new Intl.NumberFormat(locale)).format(value);
}
