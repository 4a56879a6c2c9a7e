/** One watched scope: buffering around the subscribe ack, replacement, stalled marks. */
import type { JobMap, JobValue } from "../../shared/job";
import type { StoreChange } from "../../shared/store";
import { Subscription } from "../../client/subscription";
import { ServerClock } from "../../client/server-clock";
import { job as jobValue } from "../helpers/jobs";

const T0 = Date.parse("2024-01-01T00:00:00.000Z");

function job(id: string, seq: number, extra: Partial<JobValue> = {}): JobValue {
  const at = new Date(T0).toISOString();
  return jobValue(id, seq, { updated_at: at, heartbeat: 1000, ...extra });
}

function watch(sub: Subscription): Array<[JobMap, StoreChange]> {
  const calls: Array<[JobMap, StoreChange]> = [];
  sub.listeners.add({ listener: (jobs, change) => calls.push([jobs, change]) });
  return calls;
}

describe("Subscription", () => {
  test("progress that raced with the snapshot is replayed on top of it, by seq", () => {
    const sub = new Subscription("user:1");
    const calls = watch(sub);
    sub.begin();
    sub.progress({ a: job("a", 5), b: job("b", 1), gone: null }, T0);
    expect(calls).toHaveLength(0); // buffered until the ack
    // The snapshot was read before a@5 and b existed, and still holds `gone`.
    sub.settle({ a: job("a", 4), gone: job("gone", 2) }, T0);
    expect(calls).toHaveLength(1);
    const [jobs, change] = calls[0]!;
    expect(Object.keys(jobs).sort()).toEqual(["a", "b"]);
    expect(jobs.a?.seq).toBe(5);
    expect(Object.keys(change.updated).sort()).toEqual(["a", "b"]);
    expect(change.removed).toEqual(["gone"]);
  });

  test("a stale buffered update cannot move a job backwards", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.begin();
    sub.progress({ a: job("a", 2) }, T0);
    sub.settle({ a: job("a", 3) }, T0);
    expect(calls[0]![0].a?.seq).toBe(3);
  });

  test("after a reconnection the fresh snapshot replaces the jobs: removed ones disappear", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.begin();
    sub.settle({ a: job("a", 1), b: job("b", 1) }, T0);
    sub.abandon(); // disconnected
    sub.begin(); // reconnected, subscribe sent again
    sub.settle({ b: job("b", 7) }, T0);
    const [jobs, change] = calls[1]!;
    expect(Object.keys(jobs)).toEqual(["b"]);
    expect(change.removed).toEqual(["a"]);
  });

  test("progress before any snapshot is ignored; an unchanged update notifies nobody", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.progress({ a: job("a", 1) }, T0);
    expect(sub.loaded).toBe(false);
    sub.begin();
    sub.settle({}, T0);
    expect(calls).toHaveLength(1); // an empty snapshot still tells listeners "loaded"
    sub.progress({ a: job("a", 1) }, T0);
    sub.progress({ a: job("a", 1) }, T0);
    expect(calls).toHaveLength(2);
  });

  test("a snapshot message while loaded replaces; clear() empties and reports removals", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.begin();
    sub.settle({ a: job("a", 1) }, T0);
    sub.snapshot({ c: job("c", 1) }, T0);
    expect(calls[1]![1]).toEqual({ updated: { c: job("c", 1) }, removed: ["a"] });
    sub.clear(T0);
    expect(calls[2]![0]).toEqual({});
    expect(calls[2]![1].removed).toEqual(["c"]);
  });

  test("marks a running job stalled after three heartbeats, and unmarks it on a new write", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.begin();
    sub.settle({ a: job("a", 1), done: job("done", 1, { status: "completed" }) }, T0);
    sub.checkStalled(T0 + 2000);
    expect(calls).toHaveLength(1);
    sub.checkStalled(T0 + 3001);
    expect(calls).toHaveLength(2);
    expect(calls[1]![1].updated).toEqual({ a: { ...job("a", 1), stalled: true } });
    expect(calls[1]![0].done?.stalled).toBeUndefined();
    sub.checkStalled(T0 + 4000); // no flip, no call
    expect(calls).toHaveLength(2);
    const later = new Date(T0 + 4000).toISOString();
    sub.progress({ a: job("a", 2, { updated_at: later }) }, T0 + 4000);
    expect(calls[2]![0].a?.stalled).toBeUndefined();
  });
});

describe("ServerClock", () => {
  test("reading the jobs between two stalled checks does not swallow the flip", () => {
    const sub = new Subscription("s");
    const calls = watch(sub);
    sub.begin();
    sub.settle({ a: job("a", 1) }, T0);
    expect(sub.jobs(T0 + 3001).a?.stalled).toBe(true); // a second view mounting, say
    sub.checkStalled(T0 + 3001);
    expect(calls).toHaveLength(2);
    expect(calls[1]![1].updated).toEqual({ a: { ...job("a", 1), stalled: true } });
  });

  test("estimates the skew as the smallest local-minus-server difference", () => {
    const clock = new ServerClock();
    expect(clock.now(1000)).toBe(1000);
    clock.sample(0, 60_050); // local clock a minute ahead, 50 ms in transit
    clock.sample(1000, 61_010); // 10 ms in transit
    clock.sample(NaN, 0);
    expect(clock.offset).toBe(60_010);
    expect(clock.now(70_000)).toBe(9990);
  });
});
