/** Waiting helpers: poll with a deadline, or wait for an event; never sleep-then-hope. */

/**
 * Polls `check` until it returns a truthy value (which is returned) or `timeout`
 * ms pass. An error `check` throws is retried, unless `fatal` says it is final:
 * then it is rethrown at once.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  {
    timeout = 10_000,
    interval = 20,
    what = "condition",
    fatal,
  }: {
    timeout?: number;
    interval?: number;
    what?: string;
    fatal?: (error: unknown) => boolean;
  } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      if (fatal?.(error) === true) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      const suffix = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}${suffix}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `timeout` ms. */
export function once<A extends unknown[]>(
  emitter: { once(event: string, listener: (...args: A) => void): unknown },
  event: string,
  timeout = 10_000,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out waiting for "${event}"`)), timeout);
    emitter.once(event, (...args: A) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}
