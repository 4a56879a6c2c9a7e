import { Redis } from "ioredis";
import { RedisProgress, TimeoutError } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

test("SCRIPT FLUSH between writes is survived (NOSCRIPT recovered)", async () => {
  const client = redis.client();
  const pace = await RedisProgress.start({ redis: client, scope: "faults", total: 3, interval: 1 });
  for (let i = 0; i < 3; i++) {
    await client.script("FLUSH");
    pace.tick();
    await pace.flush();
  }
  await client.script("FLUSH");
  await pace.finish();
  const job = await RedisProgress.find({ redis: client, scope: "faults", id: pace.id });
  expect(job).toMatchObject({ count: 3, status: "completed" });
  // marker + at least one write per flush + finish, each after a flush of the script cache
  expect(job?.seq).toBeGreaterThanOrEqual(5);
});

test("a connection with ioredis's keyPrefix: writes land under the prefixed keys, as ioredis prefixes a script's", async () => {
  const client = redis.client({ keyPrefix: "app:" });
  const pace = await RedisProgress.start({ redis: client, scope: "prefixed", total: 10 });
  pace.tick(4);
  await pace.flush();
  pace.tick(1);
  await pace.flush();
  const plain = redis.client();
  const keys = await plain.keys("*prefixed*");
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.every((key) => key.startsWith("app:"))).toBe(true);
  expect(await RedisProgress.find({ redis: client, scope: "prefixed", id: pace.id })).toMatchObject(
    { count: 5, seq: pace.seq },
  );
  await pace.finish();
  plain.disconnect();
  client.disconnect();
});

test("Redis killed mid-job and restarted: the tracker keeps counting and the job ends at 100% with finished_at", async () => {
  const client = redis.client({ maxRetriesPerRequest: 1 });
  const pace = await RedisProgress.start({
    redis: client,
    scope: "faults",
    total: 100,
    interval: 5,
    writeTimeout: 500,
  });
  const errors: Error[] = [];
  pace.on("error", (error) => errors.push(error));
  for (let i = 0; i < 40; i++) pace.tick();
  await pace.flush();
  const seqBefore = pace.seq;
  await redis.kill();
  // The job's hash is gone with the process (no persistence); ticks go on without throwing.
  for (let i = 0; i < 60; i++) {
    pace.tick();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await waitFor(() => errors.length > 0, { what: "a write error to be reported" });
  await redis.restart();
  await pace.finish();
  const job = await RedisProgress.find({ redis: redis.client(), scope: "faults", id: pace.id });
  expect(job).toMatchObject({ count: 100, percent: 100, status: "completed" });
  expect(job?.finished_at).toBeInstanceOf(Date);
  // recreated from the tracker's view: seq continues above what it had seen
  expect(job?.seq).toBeGreaterThan(seqBefore);
});

test("finish() failed on a URL connection it then let go: flush() stores the final state on a connection of its own", async () => {
  // A server of its own: the connections left at the end are this test's.
  const own = await TestRedis.start();
  try {
    const pace = await RedisProgress.start({
      redis: own.url,
      scope: "faults",
      total: 10,
      timeout: 600,
      writeTimeout: 200,
    });
    pace.on("error", () => {});
    const ends: string[] = [];
    pace.on("end", ({ status }) => ends.push(status));
    pace.tick(10);
    await own.kill();
    const finished = pace.finish();
    await expect(finished).rejects.toBeInstanceOf(TimeoutError);
    // This tracker was the URL's only user: its connection is closed.
    await own.restart();
    // Two at once: one retry, which the other waits for.
    await Promise.all([pace.flush(), pace.flush()]);
    const reader = own.client();
    const job = await RedisProgress.find({ redis: reader, scope: "faults", id: pace.id });
    expect(job).toMatchObject({ count: 10, percent: 100, status: "completed" });
    expect(ends).toEqual(["completed"]);
    // The end call now holds the stored final state.
    await expect(pace.finish()).resolves.toBeUndefined();
    await expect(pace.flush()).resolves.toBeUndefined();
    // The retry's connection is let go: the reader's is the only one left.
    await waitFor(
      async () => ((await reader.client("LIST")) as string).trim().split("\n").length === 1,
      { what: "the tracker's connection to close" },
    );
  } finally {
    await own.stop();
  }
});

test("a retried write never counts twice (the script applies contributions idempotently)", async () => {
  const client = redis.client();
  const pace = await RedisProgress.start({
    redis: client,
    scope: "faults",
    total: 10,
    interval: 1,
  });
  pace.tick(4);
  await pace.flush();
  await pace.flush();
  await pace.flush();
  expect((await RedisProgress.find({ redis: client, scope: "faults", id: pace.id }))?.count).toBe(
    4,
  );
  await pace.finish();
});

describe("Redis unavailable", () => {
  let dead: Redis;
  beforeEach(() => {
    // A port nothing listens on: every command fails.
    dead = new Redis({
      host: "127.0.0.1",
      port: 1,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
      lazyConnect: true,
    });
    dead.on("error", () => {});
  });
  afterEach(() => dead.disconnect());

  test("tick() never throws, errors go to the error event, finish() rejects with a TimeoutError after `timeout`", async () => {
    const pace = new RedisProgress({
      redis: dead,
      scope: "faults",
      total: 10,
      interval: 1,
      timeout: 300,
    });
    const errors: Error[] = [];
    pace.on("error", (error) => errors.push(error));
    await expect(pace.ready).rejects.toBeInstanceOf(TimeoutError);
    expect(() => {
      for (let i = 0; i < 10; i++) pace.tick();
    }).not.toThrow();
    expect(pace.count).toBe(10);
    const finished = pace.finish();
    await expect(finished).rejects.toBeInstanceOf(TimeoutError);
    await expect(finished).rejects.toMatchObject({ code: "timeout" });
    expect(errors.length).toBeGreaterThan(1);
  });

  test("without an error listener the first failure is logged once and nothing crashes", async () => {
    const warn = jest.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const a = new RedisProgress({
        redis: dead,
        scope: "faults",
        total: 10,
        interval: 1,
        timeout: 200,
      });
      const b = new RedisProgress({
        redis: dead,
        scope: "faults",
        total: 10,
        interval: 1,
        timeout: 200,
      });
      await Promise.allSettled([a.ready, b.ready]);
      await Promise.allSettled([a.finish(), b.finish()]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/"error" listener/);
    } finally {
      warn.mockRestore();
    }
  });
});
