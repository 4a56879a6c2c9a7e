/**
 * Redis frozen (SIGSTOP) while a tracker on the application's own ioredis client
 * (no command timeout) is idle: the heartbeat write goes out and sticks, the
 * next ones wait behind it and are given up after `writeTimeout`. Once the
 * server answers again, the heartbeat must resume by itself, and a change made
 * during the freeze must be written without any further call.
 */
import { RedisProgress } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const HEARTBEAT = 300;
const WRITE_TIMEOUT = 150;

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});

afterAll(async () => {
  redis.thaw();
  await redis.stop();
});

test("after a freeze longer than writeTimeout, heartbeats and held-back changes resume by themselves", async () => {
  const admin = redis.client();
  const pace = await RedisProgress.start({
    redis: redis.client(),
    scope: "stall",
    total: 100,
    heartbeat: HEARTBEAT,
    writeTimeout: WRITE_TIMEOUT,
    interval: 50,
    retention: 60_000,
  });
  const errors: Error[] = [];
  pace.on("error", (error) => errors.push(error));
  const stored = async () => {
    const text = await admin.hget("resque:pace:stall", pace.id);
    return JSON.parse(text ?? "null") as { seq: number; meta?: { during?: boolean } };
  };
  // Healthy: the heartbeat rewrites the idle job.
  const first = (await stored()).seq;
  await waitFor(async () => (await stored()).seq >= first + 2, { what: "two heartbeats" });

  redis.freeze();
  try {
    // A heartbeat write sticks in the connection and later ones are given up
    // behind it, each reported.
    await waitFor(() => errors.length >= 2, { what: "two writes to fail while frozen" });
    pace.setMeta({ during: true });
    await waitFor(() => errors.length >= 3, { what: "the change's write to be given up" });
  } finally {
    redis.thaw();
  }

  // No call to the tracker from here on.
  await waitFor(async () => (await stored()).meta?.during === true, {
    what: "the change made during the freeze to be written",
  });
  const after = (await stored()).seq;
  await waitFor(async () => (await stored()).seq >= after + 3, {
    what: "three heartbeats after the freeze",
    timeout: HEARTBEAT * 12,
  });
  await pace.finish();
  expect((await stored()).seq).toBeGreaterThan(after + 3);
});

test("a finish() that failed while the server was frozen is stored by a later flush()", async () => {
  const admin = redis.client();
  const pace = await RedisProgress.start({
    redis: redis.client(),
    scope: "stall",
    total: 10,
    heartbeat: HEARTBEAT,
    writeTimeout: WRITE_TIMEOUT,
    timeout: 400,
    retention: 60_000,
  });
  pace.on("error", () => {});
  pace.tick(10);
  redis.freeze();
  try {
    await expect(pace.finish()).rejects.toThrow(/could not be stored/);
  } finally {
    redis.thaw();
  }
  // A just-thawed server on a loaded machine may take longer than `timeout`
  // to answer: flush() again until one stores the final state.
  await waitFor(
    async () => {
      await pace.flush();
      return true;
    },
    { what: "a flush() to store the final state" },
  );
  const stored = JSON.parse((await admin.hget("resque:pace:stall", pace.id)) ?? "null") as {
    status: string;
    count: number;
  };
  expect(stored).toMatchObject({ status: "completed", count: 10 });
});
