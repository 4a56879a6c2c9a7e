import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;
let client: Redis;
let subscriber: Redis;
let writes: { at: number; percent: number; count: number; seq: number; updated_at: string }[] = [];

/** Number of script calls the server executed, from INFO commandstats. */
async function scriptCalls(): Promise<number> {
  const info = await client.info("commandstats");
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm))
    calls += Number(match[2]);
  return calls;
}

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  subscriber = redis.client();
  subscriber.on("message", (_channel: string, body: string) => {
    const jobs = (
      JSON.parse(body) as {
        jobs: Record<string, { percent: number; count: number; seq: number; updated_at: string }>;
      }
    ).jobs;
    for (const job of Object.values(jobs)) writes.push({ at: Date.now(), ...job });
  });
  await subscriber.subscribe("resque:pace:throttle");
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  await client.flushall();
  await client.config("RESETSTAT");
  writes = [];
});

test("many ticks within the interval make no write", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 100,
    interval: 60_000,
  });
  const before = await scriptCalls();
  for (let i = 0; i < 99; i++) pace.tick();
  // Writes are issued synchronously by tick(); a round trip on the same connection orders after them.
  await client.ping();
  expect(await scriptCalls()).toBe(before);
  expect(pace.percent).toBe(99);
  await pace.finish();
  expect(await scriptCalls()).toBe(before + 1);
});

test("a held-back change is written by the trailing write once the interval has passed", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 10,
    interval: 300,
  });
  const marker = await waitFor(() => writes[0], { what: "the 0% marker" });
  pace.tick(5);
  const written = await waitFor(() => writes.find((w) => w.percent === 50), {
    what: "the trailing write",
  });
  expect(written.count).toBe(5);
  // Held back for the rest of the interval, not written at once. Both times
  // are the tracker's own, taken as each write went out: a slow round trip
  // for the marker cannot shorten the gap.
  expect(Date.parse(written.updated_at) - Date.parse(marker.updated_at)).toBeGreaterThanOrEqual(
    250,
  );
  await pace.finish();
});

test("a change after a flush is written an interval after that flush, by the timer armed before it", async () => {
  const interval = 300;
  const pace = await RedisProgress.start({ redis: client, scope: "throttle", total: 10, interval });
  pace.tick(3); // held back: arms the trailing timer
  await new Promise((resolve) => setTimeout(resolve, 100));
  // Taken before the flush: the interval counts from when its write went out.
  const flushed = Date.now();
  await pace.flush(); // writes 30%; the trailing timer stays armed (writes leave it be)
  pace.tick(2); // held back again, for an interval after the flush
  const written = await waitFor(() => writes.find((w) => w.percent === 50), {
    what: "the trailing write of the change after the flush",
  });
  expect(written.count).toBe(5);
  expect(written.at - flushed).toBeGreaterThanOrEqual(interval - 20);
  await pace.finish();
});

test("a trailing timer that finds nothing left to write (a flush carried it) writes nothing", async () => {
  const interval = 150;
  const pace = await RedisProgress.start({ redis: client, scope: "throttle", total: 10, interval });
  pace.tick(3);
  await pace.flush();
  const calls = await scriptCalls();
  // Proving no write happens needs waiting past the timer (it fires within an interval).
  await new Promise((resolve) => setTimeout(resolve, 2 * interval));
  expect(await scriptCalls()).toBe(calls);
  await pace.finish();
});

test("finish() writes at once, inside the interval", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 10,
    interval: 60_000,
  });
  pace.tick(3);
  await pace.finish();
  const job = await RedisProgress.find({ redis: client, scope: "throttle", id: pace.id });
  expect(job).toMatchObject({ status: "completed", count: 3, percent: 100 });
});

test("writes stay within the percent changes and the interval; seq strictly increases", async () => {
  const interval = 25;
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 10_000,
    interval,
  });
  const started = Date.now();
  for (let i = 0; i < 10_000; i++) {
    pace.tick();
    if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await pace.finish();
  const elapsed = Date.now() - started;
  const calls = await scriptCalls();
  // marker + at most one write per interval (each needs a percent change) + the trailing write + finish
  expect(calls).toBeLessThanOrEqual(Math.min(100, Math.ceil(elapsed / interval)) + 3);
  expect(calls).toBeGreaterThanOrEqual(3);
  await waitFor(() => writes.at(-1)?.percent === 100, { what: "the final message" });
  const seqs = writes.map((w) => w.seq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
  // When Redis ran each write (updated_at, its clock): arrival times in this
  // process also carry its own event-loop delays, which bunch messages up on a
  // busy machine. No two progress writes ran much closer than the interval.
  const ran = writes.map((w) => Date.parse(w.updated_at));
  const gaps = ran.slice(1, -1).map((at, i) => at - (ran[i] as number));
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(interval - 15);
});

test("a running tracker rewrites its job every heartbeat even without progress", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 10,
    heartbeat: 100,
  });
  await waitFor(() => writes.length >= 4, { what: "three heartbeat writes" });
  expect(writes.every((w) => w.count === 0)).toBe(true);
  await pace.finish();
  await waitFor(() => writes.at(-1)?.percent === 100, { what: "the final message" });
  const calls = await scriptCalls();
  // After finish the heartbeat stops: proving that nothing more is written needs
  // waiting at least three heartbeats and seeing no write.
  await new Promise((resolve) => setTimeout(resolve, 350));
  expect(await scriptCalls()).toBe(calls);
});

test("the heartbeat counts from the latest write: a flush postpones it", async () => {
  const heartbeat = 300;
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 10,
    heartbeat,
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  await pace.flush();
  // Told apart by seq, not by arrival: on a slow machine the heartbeat armed
  // by the marker may have gone out before the flush.
  const seq = pace.seq;
  const own = await waitFor(() => writes.find((w) => w.seq === seq), {
    what: "the flush's message",
  });
  const beat = await waitFor(() => writes.find((w) => w.seq > seq), {
    what: "the heartbeat write after the flush",
  });
  // The tracker's own send times: the next heartbeat counts from the flush.
  expect(Date.parse(beat.updated_at) - Date.parse(own.updated_at)).toBeGreaterThanOrEqual(
    heartbeat - 5,
  );
  await pace.finish();
});

test("tick() reads no clock between percent boundaries", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "throttle",
    total: 1_000_000,
    interval: 60_000,
  });
  // Scheduling reads the monotonic clock, a write's stamp the wall clock.
  const wall = jest.spyOn(Date, "now");
  const monotonic = jest.spyOn(performance, "now");
  const reads = () => wall.mock.calls.length + monotonic.mock.calls.length;
  try {
    for (let i = 0; i < 9_999; i++) pace.tick(); // the 1% boundary is at 10,000
    expect(reads()).toBe(0);
    pace.tick();
    expect(reads()).toBe(1);
  } finally {
    wall.mockRestore();
    monotonic.mockRestore();
  }
  await pace.finish();
});
