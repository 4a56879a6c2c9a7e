import { RedisProgress } from "../../shared";
import { killFixtures, runFixture } from "../helpers/processes";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  killFixtures();
  await redis.stop();
});

test("4 processes x 10,000 ticks on one job end at count 40,000", async () => {
  const env = {
    REDIS_URL: redis.url,
    SCOPE: "shared:job",
    JOB_ID: "bulk-import",
    TOTAL: "40000",
    TICKS: "10000",
    INTERVAL: "2",
  };
  const workers = Array.from({ length: 4 }, () => runFixture("ticker.ts", env));
  await Promise.all(workers.map((w) => w.waitForLine("done", 60_000)));
  expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
  const job = await RedisProgress.find({
    redis: redis.client(),
    scope: "shared:job",
    id: "bulk-import",
  });
  expect(job).toMatchObject({ count: 40_000, total: 40_000, percent: 100, status: "running" });
}, 90_000);

test("a killed worker's job becomes stalled after three heartbeats and is pruned at retention", async () => {
  const client = redis.client();
  const worker = runFixture("ticker.ts", {
    REDIS_URL: redis.url,
    SCOPE: "stall",
    JOB_ID: "dies",
    TOTAL: "100",
    TICKS: "40",
    // Stalled after 1.5 s without a write: a worker descheduled for a few
    // hundred ms on a loaded machine is not taken for a dead one.
    HEARTBEAT: "500",
    // Stalled from 1.5 s until pruned at 6 s: a wide window for the checks.
    RETENTION: "6000",
    END: "hang",
  });
  await worker.waitForLine("done");
  const alive = await RedisProgress.find({ redis: client, scope: "stall", id: "dies" });
  expect(alive).toMatchObject({ count: 40, status: "running" });
  expect(alive?.stalled).toBeUndefined();
  worker.child.kill("SIGKILL");
  await worker.exited;
  const stalled = await waitFor(
    async () => {
      const job = await RedisProgress.find({ redis: client, scope: "stall", id: "dies" });
      return job?.stalled === true ? job : null;
    },
    { what: "the job to be marked stalled" },
  );
  expect(Date.now() - stalled.updated_at.getTime()).toBeGreaterThan(1500);
  // stalled is a reader's mark, never stored
  expect(
    JSON.parse((await client.hget("resque:pace:stall", "dies")) as string).stalled,
  ).toBeUndefined();
  await waitFor(
    async () => (await RedisProgress.find({ redis: client, scope: "stall", id: "dies" })) === null,
    {
      what: "the job to be pruned at retention",
    },
  );
  await waitFor(
    async () => (await client.exists("resque:pace:stall", "resque:pace:stall:#exp")) === 0,
    {
      what: "the scope's keys to expire",
    },
  );
});
