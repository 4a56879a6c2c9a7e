/** Runs a callback per item of an iterable with a tracker around the loop. */
import { RedisProgress } from "./redis-progress";
import type { RedisProgressOptions } from "./options";

export type ForEachOptions = Omit<RedisProgressOptions, "total"> & {
  /** Defaults to the iterable's `length` or `size` when it has one; required otherwise. */
  total?: number;
};

function sizeOf(items: unknown): number | undefined {
  const sized = items as { length?: unknown; size?: unknown };
  if (typeof sized.length === "number") return sized.length;
  if (typeof sized.size === "number") return sized.size;
  return undefined;
}

/**
 * Calls `fn` for every item, ticking after each one. When the loop ends the job
 * is finished; when `fn` or the iterable throws, the job is failed with that
 * error and the error is rethrown. When a cancel is requested (`pace.signal`
 * aborts), the loop stops before the next item and the job ends `canceled`
 * (`fn` may watch `pace.signal` to stop inside a long item: what it throws
 * once the signal has aborted ends the job `canceled` too, and is not
 * rethrown). Resolves to the tracker: check `pace.status` to tell a canceled
 * run from a finished one.
 */
export async function forEach<T>(
  items: Iterable<T> | AsyncIterable<T>,
  options: ForEachOptions,
  fn: (item: T, index: number, pace: RedisProgress) => unknown,
): Promise<RedisProgress> {
  const total = options.total ?? sizeOf(items);
  if (total === undefined) {
    throw new TypeError("Expected `total` for an iterable without `length` or `size`");
  }
  const pace = new RedisProgress({ ...options, total });
  let index = 0;
  try {
    for await (const item of items) {
      if (pace.signal.aborted) break;
      await fn(item, index++, pace);
      pace.tick();
      if (pace.signal.aborted) break;
    }
  } catch (error) {
    // `fn` stopping because of the cancel (an AbortError from a call it passed
    // `pace.signal` to) is the cancel taking effect, not a failure.
    if (!pace.signal.aborted) {
      await pace.fail(error).catch(() => {});
      throw error;
    }
  }
  if (pace.signal.aborted) await pace.cancel();
  else await pace.finish();
  return pace;
}
