/**
 * `RedisProgress.start()` against a Redis that is down: it rejects after
 * `timeout`, and the tracker it built must not live on behind the caller's back
 * (reconnecting forever, then heartbeating a job the caller was told had not
 * started once Redis is back).
 */
import { RedisProgress, TimeoutError } from "../../shared";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});

afterAll(async () => {
  await redis.stop();
});

/**
 * For `ms`, polled: the job `id` (in the scope of the same name) is never
 * stored, and no connection but the test's own (named, to tell it apart)
 * reaches the server.
 */
async function expectNothingFor(id: string, ms: number): Promise<void> {
  const admin = redis.client();
  await admin.client("SETNAME", "admin");
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    expect(await admin.hget(`resque:pace:${id}`, id)).toBeNull();
    const clients = ((await admin.call("CLIENT", "LIST")) as string).trim().split("\n");
    expect(clients.filter((line) => !line.includes(" name=admin "))).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("a start() that times out leaves no tracker writing, and lets its connection go", async () => {
  await redis.kill();
  const started = RedisProgress.start({
    redis: redis.url,
    scope: "orphan",
    id: "orphan",
    total: 10,
    heartbeat: 100,
    timeout: 300,
    writeTimeout: 100,
  });
  await expect(started).rejects.toThrow(TimeoutError);
  await redis.restart();
  // For several heartbeats and ioredis's reconnection delays (at most 2 s),
  // had the tracker lived on.
  await expectNothingFor("orphan", 2500);
});

test("a start() that times out against a frozen server lets go of its queued write at once", async () => {
  // The server accepts the connection but answers nothing, so the write waits
  // in ioredis's offline queue for the ready check, longer than `timeout`.
  // Had the dropped tracker held its connection until that write settled
  // (`writeTimeout` later), the thaw would let the write run.
  redis.freeze();
  try {
    const started = RedisProgress.start({
      redis: redis.url,
      scope: "frozen",
      id: "frozen",
      total: 10,
      heartbeat: 100,
      timeout: 300,
      writeTimeout: 5000,
    });
    await expect(started).rejects.toThrow(TimeoutError);
  } finally {
    redis.thaw();
  }
  await expectNothingFor("frozen", 1500);
});
