/**
 * Roll-up against a real redis-server: children in three processes ticking
 * at once, the parent's aggregate replayed from the channel and compared with
 * the children's values in exact integer arithmetic at every step; then the
 * in-process API (`pace.child()`), completion with children, failures, a
 * parent created after its child, and the parent's own writes.
 */
import type { Redis } from "ioredis";
import { InvalidArgumentError, RedisProgress, type JobValue } from "../../shared";
import { killFixtures, runFixture } from "../helpers/processes";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const PPB = 1_000_000_000n;

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
});
afterAll(async () => {
  killFixtures();
  await redis.stop();
});

async function stored(scope: string, id: string): Promise<JobValue> {
  return JSON.parse((await client.hget(`resque:pace:${scope}`, id)) as string) as JobValue;
}

/** A child's fraction in ppb, rounded down (what the script adds to its parent). */
function ppb(job: JobValue): bigint {
  if (job.status === "completed" || job.total <= 0 || job.count >= job.total) return PPB;
  return (BigInt(job.count) * PPB) / BigInt(job.total);
}

/** True when `progress / (weight * 1e9)` ≤ Σ w·count/total / Σ w, exactly (cross-multiplied). */
function notAhead(progress: bigint, children: JobValue[]): boolean {
  // progress ≤ Σ w_i · 1e9 · c_i / t_i   ⇔   progress · L ≤ Σ w_i · 1e9 · c_i · (L / t_i)
  const totals = children.map((c) => BigInt(Math.max(1, c.total)));
  const L = totals.reduce((a, b) => a * b, 1n);
  let truth = 0n;
  children.forEach((c, i) => {
    const f = c.status === "completed" || c.count >= c.total ? 1 : 0;
    const count = f === 1 ? (totals[i] as bigint) : BigInt(c.count);
    truth += BigInt(c.weight ?? 1) * PPB * count * (L / (totals[i] as bigint));
  });
  return progress * L <= truth;
}

test("3 children in 3 processes (10,000 ticks each, weights 1/2/1): the parent is the exact weighted truth, never ahead, completed only after the last child", async () => {
  const scope = "roll:procs";
  const subscriber = redis.client();
  const messages: string[] = [];
  subscriber.on("message", (_channel: string, body: string) => messages.push(body));
  await subscriber.subscribe(`resque:pace:${scope}`);

  const parent = await RedisProgress.start({
    redis: client,
    scope,
    id: "parent",
    total: 3,
    name: "Batch",
    completeWithChildren: true,
  });
  const weights = { a: 1, b: 2, c: 1 } as Record<string, number>;
  const started = Date.now();
  const workers = Object.entries(weights).map(([id, weight]) =>
    runFixture("child.ts", {
      REDIS_URL: redis.url,
      SCOPE: scope,
      PARENT: "parent",
      JOB_ID: id,
      WEIGHT: String(weight),
      TOTAL: "10000",
      TICKS: "10000",
      INTERVAL: "2",
      GO: "roll:go",
    }),
  );
  await Promise.all(workers.map((w) => w.waitForLine("ready", 60_000)));
  // All three are registered and the parent waits for them all.
  expect((await stored(scope, "parent")).children).toMatchObject({ total: 3, weight: 4 });
  await client.set("roll:go", "1");
  await Promise.all(workers.map((w) => w.waitForLine("done", 60_000)));
  expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
  const elapsed = Date.now() - started;

  const final = await stored(scope, "parent");
  expect(final.status).toBe("completed");
  expect(final.percent).toBe(100);
  expect(final.fraction).toBe(1);
  expect(final.children).toMatchObject({
    total: 3,
    completed: 3,
    failed: 0,
    canceled: 0,
    weight: 4,
    progress: 4 * 1e9,
  });
  await waitFor(
    async () =>
      messages.some(
        (m) =>
          (JSON.parse(m) as { jobs: Record<string, JobValue> }).jobs.parent?.status === "completed",
      ),
    { what: "the completed parent to be published" },
  );

  // Replay the channel in order.
  const latest = new Map<string, JobValue>();
  let parentValues = 0;
  let completedAt = -1;
  let switches = 0;
  let lastChild = "";
  let withEta = 0;
  let lastSeq = 0;
  messages.forEach((body, index) => {
    const { jobs } = JSON.parse(body) as { jobs: Record<string, JobValue | null> };
    for (const [id, value] of Object.entries(jobs)) {
      if (id === "parent" || value === null) continue;
      latest.set(id, value);
      if (lastChild !== "" && id !== lastChild) switches += 1;
      lastChild = id;
    }
    const p = jobs.parent;
    if (!p?.children) return;
    parentValues += 1;
    expect(p.seq).toBeGreaterThan(lastSeq);
    lastSeq = p.seq;
    const children = [...latest.values()];
    const { progress, weight } = p.children;
    // The aggregate is exactly the sum over the children published so far...
    expect(weight).toBe(children.reduce((s, c) => s + (c.weight ?? 1), 0));
    expect(BigInt(progress)).toBe(
      children.reduce((s, c) => s + BigInt(c.weight ?? 1) * ppb(c), 0n),
    );
    for (const c of children) expect(c.parent_ppb).toBe(Number(ppb(c)));
    // ...so it never runs ahead of the weighted truth,
    expect(notAhead(BigInt(progress), children)).toBe(true);
    // and percent and fraction are that aggregate.
    expect(p.fraction).toBe(progress / (weight * 1e9));
    expect(p.percent).toBe(p.status === "completed" ? 100 : Math.floor(progress / (weight * 1e7)));
    if (p.status === "running" && p.estimated_finished_at !== null) withEta += 1;
    const allDone = children.length === 3 && children.every((c) => c.status === "completed");
    if (p.status === "completed" && completedAt < 0) {
      completedAt = index;
      expect(allDone).toBe(true); // never before the last child
    } else if (p.status === "running") {
      expect(allDone).toBe(false); // and at once with it
    }
  });
  expect(completedAt).toBeGreaterThan(0);
  expect(switches).toBeGreaterThan(3); // the children's writes interleaved
  expect(withEta).toBeGreaterThan(0);
  const ends = [...latest.values()].map((c) => Date.parse(c.finished_at as string));
  expect(Date.parse(final.finished_at as string)).toBe(Math.max(...ends));
  console.log(
    `roll-up: 3 processes x 10,000 ticks (weights 1/2/1) in ${elapsed} ms; ` +
      `${messages.length} messages, ${parentValues} parent values replayed, ` +
      `each equal to the children's weighted sum in ppb and never ahead of the truth; ` +
      `${switches} switches between children; ${withEta} parent values with an ETA; ` +
      `final fraction ${final.fraction}, percent ${final.percent}, completed in message ${completedAt + 1} of ${messages.length}`,
  );
  await parent.finish(); // already completed by its children: nothing changes
  expect((await stored(scope, "parent")).status).toBe("completed");
}, 120_000);

test("pace.child() in one process: weighted percent, fraction and ETA on the parent, one message per write", async () => {
  const scope = "roll:one";
  const subscriber = redis.client();
  const messages: { jobs: Record<string, JobValue> }[] = [];
  subscriber.on("message", (_c: string, body: string) => messages.push(JSON.parse(body)));
  await subscriber.subscribe(`resque:pace:${scope}`);

  const parent = await RedisProgress.start({ redis: client, scope, total: 2, interval: 1 });
  const small = parent.child({ total: 10, name: "small" });
  const big = parent.child({ total: 30, weight: 3, name: "big", meta: { file: "b.mp4" } });
  await Promise.all([small.ready, big.ready]);
  expect(small.parent).toBe(parent.id);
  expect(big.weight).toBe(3);
  small.tick(5); // 1/2 at weight 1
  await small.flush();
  big.tick(10); // 1/3 at weight 3
  await big.flush();
  const value = await stored(scope, parent.id);
  // (1 · 0.5 + 3 · 0.333333333) / 4
  expect(value.children).toMatchObject({
    total: 2,
    weight: 4,
    progress: 500_000_000 + 999_999_999,
  });
  expect(value.fraction).toBe(1_499_999_999 / 4e9);
  expect(value.percent).toBe(37);
  expect(value.count).toBe(0); // the parent's own count
  expect(await stored(scope, big.id)).toMatchObject({
    parent: parent.id,
    weight: 3,
    parent_ppb: 333_333_333,
    meta: { file: "b.mp4" },
  });
  const last = messages.at(-1) as { jobs: Record<string, JobValue> };
  expect(Object.keys(last.jobs).sort()).toEqual([big.id, parent.id].sort());
  expect(last.jobs[parent.id]).toEqual(value);

  // The parent's ETA follows its aggregate; its own writes keep the children.
  await new Promise((resolve) => setTimeout(resolve, 20));
  small.tick(5);
  await small.finish();
  const eta = await stored(scope, parent.id);
  expect(eta.estimated_finished_at).not.toBeNull();
  expect(Date.parse(eta.estimated_finished_at as string)).toBeGreaterThan(
    Date.parse(eta.updated_at),
  );
  await parent.flush();
  const own = await stored(scope, parent.id);
  expect(own.children).toEqual(eta.children);
  expect(own.percent).toBe(eta.percent);
  expect(own.estimated_finished_at).not.toBeNull();

  // Without completeWithChildren the parent runs until it is finished explicitly.
  big.tick(20);
  await big.finish();
  expect(await stored(scope, parent.id)).toMatchObject({
    status: "running",
    percent: 100,
    fraction: 1,
  });
  await parent.finish();
  expect(await stored(scope, parent.id)).toMatchObject({ status: "completed", percent: 100 });
});

test("completeWithChildren: a failed child fails the parent once all have ended, and the parent waits for `total` children", async () => {
  const scope = "roll:fail";
  const parent = await RedisProgress.start({
    redis: client,
    scope,
    total: 3,
    completeWithChildren: true,
  });
  const a = parent.child({ total: 4 });
  const b = parent.child({ total: 4 });
  await Promise.all([a.ready, b.ready]);
  a.tick(4);
  await a.finish();
  await b.fail(new Error("disk full"));
  // Two of three children have ended; the third has not even started.
  expect((await stored(scope, parent.id)).status).toBe("running");
  const c = parent.child({ total: 4 });
  await c.ready;
  c.tick(4);
  await c.finish();
  const value = await stored(scope, parent.id);
  expect(value).toMatchObject({
    status: "failed",
    error: "1 of 3 children failed",
    children: { total: 3, completed: 2, failed: 1, canceled: 0 },
  });
  expect(value.finished_at).not.toBeNull();
  await parent.finish(); // ended is final
  expect((await stored(scope, parent.id)).status).toBe("failed");
});

test("a child written before its parent exists is stored with its link and rolls up once the parent exists", async () => {
  const scope = "roll:late";
  const child = await RedisProgress.start({
    redis: client,
    scope,
    total: 10,
    parent: "later",
    weight: 2,
    interval: 1,
  });
  child.tick(5);
  await child.flush();
  const alone = await stored(scope, child.id);
  expect(alone).toMatchObject({ parent: "later", weight: 2 });
  expect(alone.parent_ppb).toBeUndefined();
  expect(await client.hexists(`resque:pace:${scope}`, "later")).toBe(0);

  const parent = await RedisProgress.start({ redis: client, scope, id: "later", total: 1 });
  child.tick(1);
  await child.flush();
  expect(await stored(scope, "later")).toMatchObject({
    percent: 60,
    children: { total: 1, weight: 2, progress: 2 * 600_000_000 },
  });
  await child.finish();
  await parent.finish();
});

test("bad weights and parents are refused before any Redis command", () => {
  const base = { redis: client, scope: "roll:bad", total: 1 };
  for (const weight of [0, -1, 1.5, Number.NaN, 1_000_001, "2"]) {
    expect(() => new RedisProgress({ ...base, parent: "p", weight: weight as number })).toThrow(
      InvalidArgumentError,
    );
  }
  expect(() => new RedisProgress({ ...base, parent: "a b" })).toThrow(InvalidArgumentError);
  expect(() => new RedisProgress({ ...base, id: "x", parent: "x" })).toThrow(/differ/);
  expect(
    () => new RedisProgress({ ...base, completeWithChildren: "yes" as unknown as boolean }),
  ).toThrow(InvalidArgumentError);
});

test("a parent tracker learns that its children completed it: from its own child's write at once, from another's with its next write", async () => {
  const scope = "roll:learn";
  const parent = await RedisProgress.start({
    redis: client,
    scope,
    total: 2,
    completeWithChildren: true,
  });
  const ends: string[] = [];
  parent.on("end", ({ status }) => ends.push(status));
  const mine = parent.child({ total: 5 });
  // A child of another process: linked by id, not made by parent.child().
  const theirs = await RedisProgress.start({ redis: client, scope, parent: parent.id, total: 5 });
  await mine.ready;
  mine.tick(5);
  await mine.finish();
  expect(parent.status).toBe("running");
  await theirs.finish();
  // theirs completed the parent in Redis; this parent tracker is not theirs.
  expect((await stored(scope, parent.id)).status).toBe("completed");
  expect(parent.status).toBe("running");
  await parent.flush();
  expect(parent.status).toBe("completed");
  expect(ends).toEqual(["completed"]);
  // Ended: no more writes, and finish() resolves without one.
  const seq = (await stored(scope, parent.id)).seq;
  parent.tick(1);
  await parent.finish();
  expect((await stored(scope, parent.id)).seq).toBe(seq);
  expect(ends).toEqual(["completed"]);
});

test("the child that completes its parent tells the parent tracker of this process with its own write", async () => {
  const scope = "roll:tell";
  const parent = await RedisProgress.start({
    redis: client,
    scope,
    total: 1,
    completeWithChildren: true,
  });
  const ended = new Promise<string>((resolve) => parent.on("end", ({ status }) => resolve(status)));
  const child = parent.child({ total: 3 });
  child.tick(3);
  await child.fail(new Error("disk full"));
  expect(parent.status).toBe("failed");
  expect(await ended).toBe("failed");
  expect(await stored(scope, parent.id)).toMatchObject({
    status: "failed",
    error: "1 of 1 children failed",
  });
  await parent.finish(); // already ended: resolves, changes nothing
  expect((await stored(scope, parent.id)).status).toBe("failed");
});

test("a tracker's own finish() emits end once, after the final write is stored", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "roll:own", total: 2 });
  const ends: string[] = [];
  pace.on("end", ({ status }) => ends.push(status));
  pace.tick(2);
  await pace.finish();
  await pace.finish();
  expect(ends).toEqual(["completed"]);
  expect((await stored("roll:own", pace.id)).status).toBe("completed");
});

test("a child kept for less than its parent does not shorten the parent's retention or move its pruning earlier", async () => {
  const parent = await RedisProgress.start({
    redis: client,
    scope: "keep",
    total: 1,
    retention: 3_600_000,
  });
  const before = Date.now();
  // From another process: a child with its own, much shorter retention.
  const child = await RedisProgress.start({
    redis: client,
    scope: "keep",
    total: 10,
    parent: parent.id,
    retention: 1_000,
    heartbeat: 500,
  });
  child.tick(5);
  await child.flush();
  expect((await stored("keep", parent.id)).retention).toBe(3_600_000);
  const pruneAt = Number(await client.zscore("resque:pace:keep:#exp", parent.id));
  expect(pruneAt).toBeGreaterThanOrEqual(before + 3_600_000);
  await child.finish();
  await parent.finish();
});

test("nested parents: a grandchild's write moves its parent and every ancestor in the same message, and completion climbs the tree", async () => {
  const messages: Record<string, { status: string; percent: number } | null>[] = [];
  const listener = redis.client();
  listener.on("message", (_channel: string, body: string) => {
    messages.push((JSON.parse(body) as { jobs: Record<string, never> }).jobs);
  });
  await listener.subscribe("resque:pace:tree");
  const root = await RedisProgress.start({
    redis: client,
    scope: "tree",
    total: 1,
    name: "root",
    completeWithChildren: true,
  });
  // A middle job from another process, itself completing with its children.
  const middle = await RedisProgress.start({
    redis: client,
    scope: "tree",
    total: 2,
    name: "middle",
    parent: root.id,
    completeWithChildren: true,
  });
  const a = middle.child({ total: 10, name: "a" });
  const b = middle.child({ total: 10, name: "b", weight: 3 });
  await Promise.all([a.ready, b.ready]);
  a.tick(5);
  await a.flush();
  // a: 50% of weight 1 out of 4 → middle 12.5%, and the root with it.
  expect(await stored("tree", middle.id)).toMatchObject({ percent: 12, fraction: 0.125 });
  expect(await stored("tree", root.id)).toMatchObject({ percent: 12, fraction: 0.125 });
  const last = messages.at(-1) ?? {};
  expect(Object.keys(last).sort()).toEqual([a.id, middle.id, root.id].sort());
  await a.finish();
  b.tick(10);
  await b.finish();
  // b ended middle (all its children done), and middle's end ended the root.
  expect(await stored("tree", middle.id)).toMatchObject({ status: "completed", percent: 100 });
  expect(await stored("tree", root.id)).toMatchObject({
    status: "completed",
    percent: 100,
    children: { total: 1, completed: 1 },
  });
  await listener.quit();
  await Promise.all([middle.finish(), root.finish()]);
});

test("a child removed while its tracker runs, and a parent removed while its children run: no child counts twice", async () => {
  const parent = await RedisProgress.start({
    redis: client,
    scope: "gone",
    total: 2,
    completeWithChildren: true,
  });
  const a = parent.child({ total: 10, name: "a" });
  const b = parent.child({ total: 10, name: "b" });
  await Promise.all([a.ready, b.ready]);
  a.tick(5);
  await a.flush();
  // The child's value is removed; its tracker writes it again.
  await RedisProgress.remove({ redis: client, scope: "gone", id: a.id });
  a.tick(1);
  await a.flush();
  expect((await stored("gone", parent.id)).children).toMatchObject({
    total: 2,
    weight: 2,
    progress: 600_000_000,
  });
  // The parent's value is removed; its tracker writes it again (a new
  // aggregate), and the children register with it as they write.
  await RedisProgress.remove({ redis: client, scope: "gone", id: parent.id });
  await parent.flush();
  expect((await stored("gone", parent.id)).children).toBeUndefined();
  a.tick(4);
  await a.finish();
  b.tick(10);
  await b.finish();
  expect(await stored("gone", parent.id)).toMatchObject({
    status: "completed",
    percent: 100,
    children: { total: 2, completed: 2, weight: 2, progress: 2_000_000_000 },
  });
});

test("a middle job removed while its tracker runs does not count twice in the job above it", async () => {
  const root = await RedisProgress.start({ redis: client, scope: "gone2", total: 1 });
  const middle = root.child({ total: 1, name: "middle" });
  await middle.ready;
  const a = middle.child({ total: 10, name: "a" });
  await a.ready;
  a.tick(5);
  await a.flush();
  expect((await stored("gone2", root.id)).children).toMatchObject({ progress: 500_000_000 });
  await RedisProgress.remove({ redis: client, scope: "gone2", id: middle.id });
  await middle.flush();
  a.tick(1);
  await a.flush();
  expect((await stored("gone2", root.id)).children).toMatchObject({
    total: 1,
    weight: 1,
    progress: 600_000_000,
  });
  expect((await stored("gone2", root.id)).percent).toBe(60);
});
