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
  const admin = redis.client();
  // For several heartbeats and ioredis's reconnection delays (at most 2 s),
  // had the tracker lived on: no write, and no connection but this one.
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline) {
    expect(await admin.hget("resque:pace:orphan", "orphan")).toBeNull();
    const clients = ((await admin.call("CLIENT", "LIST")) as string).trim().split("\n");
    expect(clients).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
