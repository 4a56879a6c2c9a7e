import { Deadlines } from "../../shared/tracker/deadlines";
import { TimeoutError } from "../../shared/errors/timeout-error";

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A promise settled by hand. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test("a promise that settles in time passes through; one that does not rejects with a TimeoutError", async () => {
  const deadlines = new Deadlines();
  const fast = pending<string>();
  const slow = pending<string>();
  const passed = deadlines.race(fast.promise, 100, "A write", "writeTimeout");
  const timedOut = deadlines.race(slow.promise, 100, "A write", "writeTimeout");
  const failed = timedOut.catch((error: unknown) => error);
  fast.resolve("stored");
  await expect(passed).resolves.toBe("stored");
  await jest.advanceTimersByTimeAsync(99);
  slow.resolve("too late?");
  await jest.advanceTimersByTimeAsync(0);
  // Settled at 99 ms: in time.
  await expect(timedOut).resolves.toBe("too late?");
  const late = deadlines.race(pending<string>().promise, 50, "A flush()", "timeout");
  const error = late.catch((e: unknown) => e);
  await jest.advanceTimersByTimeAsync(50);
  expect(await error).toBeInstanceOf(TimeoutError);
  expect(String(await error)).toContain("within 50 ms (see the `timeout` option)");
  expect(await failed).toBe("too late?");
});

test("many races share one timer, re-armed only for an earlier deadline", async () => {
  const deadlines = new Deadlines();
  for (let k = 0; k < 100; k++) {
    const write = pending<number>();
    const raced = deadlines.race(write.promise, 5000, "A write", "writeTimeout");
    write.resolve(k);
    await raced;
    await jest.advanceTimersByTimeAsync(5);
  }
  // Settled writes leave their timer armed rather than clear it: one in all.
  expect(jest.getTimerCount()).toBe(1);
  const stuck = deadlines.race(pending<void>().promise, 20, "A write", "writeTimeout");
  const error = stuck.catch((e: unknown) => e);
  expect(jest.getTimerCount()).toBe(1);
  await jest.advanceTimersByTimeAsync(20);
  expect(await error).toBeInstanceOf(TimeoutError);
  // Nothing pending: the timer fires once more and is not armed again.
  await jest.advanceTimersByTimeAsync(5000);
  expect(jest.getTimerCount()).toBe(0);
});

test("a deadline later than the armed timer waits for its own time", async () => {
  const deadlines = new Deadlines();
  const first = deadlines.race(pending<void>().promise, 100, "A", "a").catch((e: unknown) => e);
  await jest.advanceTimersByTimeAsync(50);
  let expired = false;
  const second = deadlines
    .race(pending<void>().promise, 100, "B", "b")
    .catch((e: unknown) => ((expired = true), e));
  await jest.advanceTimersByTimeAsync(50);
  expect(await first).toBeInstanceOf(TimeoutError);
  expect(expired).toBe(false);
  await jest.advanceTimersByTimeAsync(49);
  expect(expired).toBe(false);
  await jest.advanceTimersByTimeAsync(1);
  expect(await second).toBeInstanceOf(TimeoutError);
});

test("a wall clock stepped back does not stretch a timeout (monotonic time)", async () => {
  const deadlines = new Deadlines();
  const raced = deadlines.race(pending<void>().promise, 100, "A write", "writeTimeout");
  const error = raced.catch((e: unknown) => e);
  await jest.advanceTimersByTimeAsync(50);
  jest.setSystemTime(Date.now() - 10_000);
  await jest.advanceTimersByTimeAsync(50);
  expect(await error).toBeInstanceOf(TimeoutError);
});

test("a delay past setTimeout's longest waits in steps instead of firing at once, again and again", async () => {
  const deadlines = new Deadlines();
  const arm = jest.spyOn(global, "setTimeout");
  let expired = false;
  void deadlines
    .race(pending<void>().promise, 3e9, "A write", "writeTimeout")
    .catch(() => (expired = true));
  await jest.advanceTimersByTimeAsync(1000);
  expect(expired).toBe(false);
  expect(arm).toHaveBeenCalledTimes(1);
  expect(arm.mock.calls[0]?.[1]).toBe(2_147_483_647);
  await jest.advanceTimersByTimeAsync(3e9);
  expect(expired).toBe(true);
  arm.mockRestore();
});
