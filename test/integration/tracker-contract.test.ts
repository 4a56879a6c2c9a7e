import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const SEED_FIELDS = [
  "percent",
  "count",
  "total",
  "started_at",
  "estimated_finished_at",
  "finished_at",
];
const ADDED_ALWAYS = ["id", "status", "updated_at", "seq", "heartbeat", "retention"];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let redis: TestRedis;
let client: Redis;
let subscriber: Redis;
const messages: {
  channel: string;
  body: { scope: string; jobs: Record<string, Record<string, unknown> | null> };
}[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  subscriber = redis.client();
  subscriber.on("message", (channel: string, body: string) =>
    messages.push({ channel, body: JSON.parse(body) }),
  );
  await subscriber.subscribe("resque:pace:user:3421");
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  await client.flushall();
  messages.length = 0;
});

test("construction stores the 0% marker with the seed's fields plus the added ones, and publishes it", async () => {
  const pace = new RedisProgress({ redis: client, scope: ["user", 3421], total: 200 });
  await pace.ready;
  const hash = await client.hgetall("resque:pace:user:3421");
  expect(Object.keys(hash)).toEqual([pace.id]);
  expect(pace.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const value = JSON.parse(hash[pace.id] as string) as Record<string, unknown>;
  expect(Object.keys(value).sort()).toEqual([...SEED_FIELDS, ...ADDED_ALWAYS].sort());
  expect(value).toMatchObject({
    id: pace.id,
    percent: 0,
    count: 0,
    total: 200,
    status: "running",
    seq: 1,
    heartbeat: 30000,
    retention: 86400000,
    finished_at: null,
    estimated_finished_at: null,
  });
  expect(value.started_at).toMatch(ISO);
  expect(value.updated_at).toMatch(ISO);
  await waitFor(() => messages.length === 1, { what: "the marker's message" });
  expect(messages[0]).toEqual({
    channel: "resque:pace:user:3421",
    body: { scope: "user:3421", jobs: { [pace.id]: value } },
  });
  await pace.finish();
});

test("every write publishes one message whose value equals the stored one; finish stores 100% and finished_at", async () => {
  const pace = new RedisProgress({
    redis: client,
    scope: "user:3421",
    total: 4,
    interval: 1,
    name: "Import contacts",
    meta: {
      file: "contacts.csv",
      empty: [],
      precise: 0.12345678901234566,
      big: 1152921504606846976,
    },
  });
  await pace.ready;
  for (let i = 0; i < 4; i++) {
    pace.tick();
    await pace.flush();
  }
  await pace.finish();
  const stored = JSON.parse((await client.hget("resque:pace:user:3421", pace.id)) as string);
  expect(stored).toMatchObject({
    percent: 100,
    count: 4,
    status: "completed",
    name: "Import contacts",
  });
  expect(stored.finished_at).toMatch(ISO);
  expect(stored.estimated_finished_at).toBe(stored.finished_at);
  // meta round-trips exactly (no [] -> {} and no 14-digit rounding).
  expect(stored.meta).toEqual({
    file: "contacts.csv",
    empty: [],
    precise: 0.12345678901234566,
    big: 1152921504606846976,
  });
  await waitFor(() => messages.at(-1)?.body.jobs[pace.id]?.status === "completed", {
    what: "final message",
  });
  expect(messages.at(-1)?.body.jobs[pace.id]).toEqual(stored);
  const seqs = messages.map((m) => m.body.jobs[pace.id]?.seq as number);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  expect(stored.seq).toBe(seqs.length);
});

test("fail() stores status failed with the error message", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "user:3421", total: 10 });
  pace.tick(3);
  await pace.fail(new Error("disk full"));
  const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  expect(job).toMatchObject({ status: "failed", error: "disk full", count: 3, percent: 30 });
  expect(job?.finished_at).toBeInstanceOf(Date);
  // finish after fail changes nothing
  await pace.finish();
  expect(
    (await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id }))?.status,
  ).toBe("failed");
});

test("flush() after the job ended waits for the final write, even once a URL connection is let go", async () => {
  const pace = await RedisProgress.start({ redis: redis.url, scope: "user:3421", total: 10 });
  pace.tick(10);
  const ended = pace.finish();
  await expect(pace.flush()).resolves.toBeUndefined();
  await ended;
  // The tracker was the URL connection's only user, which is closed by now.
  await expect(pace.flush()).resolves.toBeUndefined();
  const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  expect(job).toMatchObject({ status: "completed", count: 10 });
});

test("queries return Date objects; remove deletes and publishes null", async () => {
  const a = await RedisProgress.start({ redis: client, scope: "user:3421", total: 1, id: "job-a" });
  const b = await RedisProgress.start({ redis: client, scope: "user:3421", total: 1, id: "job-b" });
  const all = await RedisProgress.jobs({ redis: client, scope: ["user", "3421"] });
  expect(Object.keys(all).sort()).toEqual(["job-a", "job-b"]);
  expect(all["job-a"]?.started_at).toBeInstanceOf(Date);
  expect(all["job-a"]?.updated_at).toBeInstanceOf(Date);
  expect(all["job-a"]?.finished_at).toBeNull();
  expect(await RedisProgress.find({ redis: client, scope: "user:3421", id: "nope" })).toBeNull();
  expect(await RedisProgress.remove({ redis: client, scope: "user:3421", id: "job-a" })).toBe(1);
  await waitFor(() => messages.some((m) => m.body.jobs["job-a"] === null), {
    what: "removal message",
  });
  expect(await RedisProgress.remove({ redis: client, scope: "user:3421" })).toBe(1);
  expect(await client.exists("resque:pace:user:3421")).toBe(0);
  await Promise.all([a.finish(), b.finish()]);
});

test("name, meta, error counts, total changes and absolute updates are stored", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "user:3421",
    total: 100,
    interval: 1,
    meta: { step: 1 },
  });
  pace.update(50);
  pace.error();
  pace.error(2);
  pace.setMeta({ step: 2 });
  pace.setTotal(200);
  expect(pace.percent).toBe(25);
  await pace.flush();
  const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  expect(job).toMatchObject({
    count: 50,
    total: 200,
    percent: 25,
    error_count: 3,
    meta: { step: 2 },
  });
  await pace.finish();
});

test("a name with spaces, a new line and non-ASCII text is stored as given, over several writes", async () => {
  // The name travels last in the write's constant argument, which the script
  // splits at spaces: everything after the eleventh is the name.
  const name = "Import  «contacts»\nfrom a.csv ";
  const pace = await RedisProgress.start({ redis: client, scope: "user:3421", total: 10, name });
  for (let k = 0; k < 3; k++) {
    pace.tick(3);
    await pace.flush();
  }
  const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  expect(job).toMatchObject({ name, count: 9 });
  await pace.finish();
});

test("total = 0 means 100% at once; count above total caps percent at 100", async () => {
  const empty = await RedisProgress.start({ redis: client, scope: "user:3421", total: 0 });
  expect(empty.percent).toBe(100);
  expect(
    (await RedisProgress.find({ redis: client, scope: "user:3421", id: empty.id }))?.percent,
  ).toBe(100);
  const over = await RedisProgress.start({
    redis: client,
    scope: "user:3421",
    total: 2,
    interval: 1,
  });
  over.tick(5);
  await over.flush();
  expect(over.percent).toBe(100);
  expect(
    (await RedisProgress.find({ redis: client, scope: "user:3421", id: over.id }))?.percent,
  ).toBe(100);
  await Promise.all([empty.finish(), over.finish()]);
});

test("the ETA is null until there is a rate, never earlier than now, and equals finished_at when finished", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "user:3421",
    total: 1000,
    interval: 1,
  });
  expect(pace.eta).toBeNull();
  expect(
    (await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id }))
      ?.estimated_finished_at,
  ).toBeNull();
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    pace.tick(10);
    const before = Date.now();
    await pace.flush();
    const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
    expect(job?.rate).toBeGreaterThan(0);
    expect(job?.estimated_finished_at).toBeInstanceOf(Date);
    expect((job?.estimated_finished_at as Date).getTime()).toBeGreaterThanOrEqual(
      (job?.updated_at as Date).getTime(),
    );
    expect((pace.eta as Date).getTime()).toBeGreaterThanOrEqual(before - 5);
  }
  await pace.finish();
  const done = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  expect(done?.estimated_finished_at?.getTime()).toBe(done?.finished_at?.getTime());
});

test("the rate is an EMA (smoothing 0.3) of count and time deltas, not the naive average", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "user:3421",
    total: 100000,
    interval: 1,
  });
  // A fast burst followed by slow progress: the naive average stays high, the EMA follows.
  pace.tick(5000);
  await pace.flush();
  for (let i = 0; i < 15; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    pace.tick(5);
    await pace.flush();
  }
  const job = await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id });
  const elapsed = (job!.updated_at.getTime() - job!.started_at.getTime()) / 1000;
  const naive = job!.count / elapsed;
  // 0.7^15 ≈ 0.005 of the burst is left in the EMA; the naive average keeps all of it.
  expect(job!.rate).toBeLessThan(naive / 4);
  await pace.finish();
});

test("forEach ticks per item, finishes, and fails and rethrows when the body throws", async () => {
  const seen: number[] = [];
  const pace = await RedisProgress.forEach(
    [1, 2, 3],
    { redis: client, scope: "user:3421" },
    (n) => {
      seen.push(n);
    },
  );
  expect(seen).toEqual([1, 2, 3]);
  expect(
    await RedisProgress.find({ redis: client, scope: "user:3421", id: pace.id }),
  ).toMatchObject({ status: "completed", count: 3 });

  async function* numbers() {
    yield 1;
    yield 2;
  }
  await expect(
    RedisProgress.forEach(
      numbers(),
      { redis: client, scope: "user:3421", total: 2, id: "fails" },
      (n) => {
        if (n === 2) throw new Error("bad record 2");
      },
    ),
  ).rejects.toThrow("bad record 2");
  expect(
    await RedisProgress.find({ redis: client, scope: "user:3421", id: "fails" }),
  ).toMatchObject({
    status: "failed",
    error: "bad record 2",
    count: 1,
  });
});
