import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;
let client: Redis;
let subscriber: Redis;
const removed: string[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  subscriber = redis.client();
  subscriber.on("message", (_channel: string, body: string) => {
    for (const [id, value] of Object.entries(
      (JSON.parse(body) as { jobs: Record<string, unknown> }).jobs,
    )) {
      if (value === null) removed.push(id);
    }
  });
  await subscriber.subscribe("resque:pace:keep");
});
afterAll(async () => {
  await redis.stop();
});

/** Writes another job of `scope` until its housekeeping has pruned job `id` (past its retention). */
async function writeUntilPruned(scope: string, id: string): Promise<void> {
  const writer = await RedisProgress.start({
    redis: client,
    scope,
    total: 10,
    interval: 1,
    retention: 5000,
    heartbeat: 1000,
  });
  await waitFor(
    async () => {
      writer.tick();
      await writer.flush();
      return (await client.hexists(`resque:pace:${scope}`, id)) === 0;
    },
    { what: `a write to prune job ${id}` },
  );
  await writer.finish();
}

test("finished jobs stay for `retention`, then reads prune them and publish null", async () => {
  const done = await RedisProgress.start({
    redis: client,
    scope: "keep",
    total: 1,
    id: "done",
    retention: 400,
    heartbeat: 100,
  });
  await done.finish();
  const running = await RedisProgress.start({
    redis: client,
    scope: "keep",
    total: 10,
    id: "live",
    // Longer than the finished job's: a test process stalled for a few hundred
    // ms must not let it lapse between two heartbeats.
    retention: 1000,
    heartbeat: 100,
  });
  expect(Object.keys(await RedisProgress.jobs({ redis: client, scope: "keep" })).sort()).toEqual([
    "done",
    "live",
  ]);
  // The live job's heartbeat keeps it; the finished one goes.
  await waitFor(
    async () => !("done" in (await RedisProgress.jobs({ redis: client, scope: "keep" }))),
    {
      what: "the finished job to be pruned",
    },
  );
  expect(Object.keys(await RedisProgress.jobs({ redis: client, scope: "keep" }))).toEqual(["live"]);
  await waitFor(() => removed.includes("done"), { what: "the removal message" });
  expect(await client.zscore("resque:pace:keep:#exp", "done")).toBeNull();
  // Well past its own retention (1 s, plus a running job's slack of 0.1 s), the
  // live job is still there: its heartbeats keep it.
  await waitFor(
    async () => {
      const live = await RedisProgress.find({ redis: client, scope: "keep", id: "live" });
      return live !== null && live.updated_at.getTime() - live.started_at.getTime() > 1500;
    },
    { what: "the live job, kept by its heartbeats, 1.5 s after it started" },
  );
  expect(removed).not.toContain("live");
  await running.finish();
});

test("the write script prunes too, without any reader", async () => {
  const old = await RedisProgress.start({
    redis: client,
    scope: "keep",
    total: 1,
    id: "old",
    retention: 200,
    heartbeat: 50,
  });
  await old.finish();
  const hashHas = async (id: string) => (await client.hexists("resque:pace:keep", id)) === 1;
  expect(await hashHas("old")).toBe(true);
  await writeUntilPruned("keep", "old");
});

test("a scope nobody writes to vanishes after retention (key TTL)", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "gone",
    total: 1,
    retention: 300,
    heartbeat: 100,
  });
  await pace.finish();
  const ttl = await client.pttl("resque:pace:gone");
  expect(ttl).toBeGreaterThan(0);
  // retention + 2 * slack, slack = retention / 10
  expect(ttl).toBeLessThanOrEqual(360);
  await waitFor(
    async () => (await client.exists("resque:pace:gone", "resque:pace:gone:#exp")) === 0,
    {
      what: "the scope keys to expire",
    },
  );
});

test("a job with a short retention never shortens the scope's TTL: a longer-kept job stays", async () => {
  const kept = await RedisProgress.start({
    redis: client,
    scope: "mixed",
    total: 1,
    id: "kept",
    retention: 3_600_000,
  });
  await kept.finish();
  const hashTtl = () => client.pttl("resque:pace:mixed");
  const expiryTtl = () => client.pttl("resque:pace:mixed:#exp");
  expect(await hashTtl()).toBeGreaterThan(3_600_000);
  const brief = await RedisProgress.start({
    redis: client,
    scope: "mixed",
    total: 1,
    id: "brief",
    retention: 200,
    heartbeat: 50,
  });
  await brief.finish();
  // Before the fix the brief job's housekeeping set both keys to 240 ms.
  expect(await hashTtl()).toBeGreaterThan(3_500_000);
  expect(await expiryTtl()).toBeGreaterThan(3_500_000);
  // The brief job itself still goes after its own retention, by its expiry score.
  await writeUntilPruned("mixed", "brief");
  expect((await RedisProgress.find({ redis: client, scope: "mixed", id: "kept" }))?.status).toBe(
    "completed",
  );
  expect(await hashTtl()).toBeGreaterThan(3_500_000);
});

test("a tracker with a shorter retention never shortens the job's writers hash, which holds every tracker's applied count", async () => {
  const refreshedAt = Date.now();
  const long = await RedisProgress.start({
    redis: client,
    scope: "shared",
    total: 100,
    id: "both",
    retention: 3_600_000,
  });
  long.tick(40);
  await long.flush();
  const writersTtl = () => client.pttl("resque:pace:shared:#w:both");
  expect(await writersTtl()).toBeGreaterThan(3_600_000);
  // Another process's tracker of the same job, keeping it 10 s: its writes run
  // the housekeeping once its slack (a tenth of that) has passed since the job's.
  await waitFor(() => Date.now() - refreshedAt > 1_100, { what: "the housekeeping to be due" });
  const short = await RedisProgress.start({
    redis: client,
    scope: "shared",
    total: 100,
    id: "both",
    retention: 10_000,
    heartbeat: 2_000,
  });
  short.tick(5);
  await short.flush();
  // Before the fix its housekeeping set the hash to expire in 12 s; once it
  // had, the first tracker's next write found no applied count of its own and
  // counted its 40 items again.
  expect(await writersTtl()).toBeGreaterThan(3_500_000);
  long.tick(1);
  await long.flush();
  expect((await RedisProgress.find({ redis: client, scope: "shared", id: "both" }))?.count).toBe(
    46,
  );
  await Promise.all([long.finish(), short.finish()]);
});
