/**
 * The write script's fast path (write-4.lua): a plain running job's writes
 * build the value from the job's state alone (its numbers, and its copy of the
 * text after the dynamic head). It must give the value the full path gives,
 * step aside whenever someone else changed the value (cancel, a child's
 * roll-up, remove, a writer that does not know the fast path) or the
 * tracker's name changed.
 */
import type { Redis } from "ioredis";
import { RedisProgress, type JobValue } from "../../shared";
import { DEFAULT_PREFIX, scopeKeys, writersKey } from "../../shared/keys";
import { runScript } from "../../shared/tracker/scripts";
import { packConstants, packNumbers } from "../../shared/tracker/write-args";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;
const keys = scopeKeys(DEFAULT_PREFIX, "fast");

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  await client.flushall();
});

async function raw(id: string): Promise<string> {
  const value = await client.hget(keys.hash, id);
  if (value === null) throw new Error(`job ${id} is not stored`);
  return value;
}

async function stored(id: string): Promise<JobValue> {
  return JSON.parse(await raw(id)) as JobValue;
}

/**
 * Respaces `"name":"<name>"` in the job's copy of the value's tail (field
 * "~t" of its writers hash): spacing JSON allows but cjson never writes, so
 * only a value the fast path built from the copy shows it.
 */
async function markState(id: string, name: string): Promise<void> {
  const writers = writersKey(keys, id);
  const tail = await client.hget(writers, "~t");
  if (tail === null) throw new Error(`job ${id} has no tail copy`);
  expect(tail).toContain(`"name":"${name}"`);
  await client.hset(writers, "~t", tail.replace(`"name":"${name}"`, `"name" : "${name}"`));
}

test("a plain running job's write builds the value from the job's state, tail included", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "fast",
    total: 100,
    name: "Import",
  });
  pace.tick(1);
  await pace.flush();
  await markState(pace.id, "Import");
  expect(await raw(pace.id)).toContain('"name":"Import"');

  pace.tick(4);
  await pace.flush();
  const text = await raw(pace.id);
  expect(text).toContain('"name" : "Import"');
  expect(text.startsWith(`{"seq":${pace.seq},`)).toBe(true);
  expect(JSON.parse(text)).toMatchObject({
    count: 5,
    percent: 5,
    name: "Import",
    status: "running",
  });
  const writers = writersKey(keys, pace.id);
  expect(await client.hmget(writers, "~t", "~m")).toEqual([expect.stringMatching(/^,"id":/), "}"]);
  await pace.finish();
  // The last write takes the full path: the stored text is cjson's again, and
  // an ended job keeps no copy of its tail.
  expect(await raw(pace.id)).toContain('"name":"Import"');
  expect(await client.hmget(writers, "~t", "~m")).toEqual([null, null]);
});

test("the fast path and the full path store the same value, key for key and in the same order", async () => {
  const run = (
    id: string,
    token: string,
    [count, errors, total, meta]: [number, number, number, string],
  ) =>
    runScript(
      client,
      "write",
      [keys.hash, keys.expiry, writersKey(keys, id)],
      [
        packNumbers({ count, errors, total, seq: 0, retention: 86400000, alpha: 0.3 }),
        "running",
        meta,
        "",
        packConstants({
          scope: "fast",
          id,
          trackerId: "tracker-1",
          heartbeat: 30000,
          retention: 86400000,
          publish: "PUBLISH",
          token,
          startedAt: "2026-11-28T10:00:00.000Z",
          name: "Import",
          parent: "",
          weight: 1,
          completeWithChildren: false,
        }),
      ],
    );
  // meta "" keeps what is stored.
  const steps: [number, number, number, string][] = [
    [0, 0, 1000, ""],
    [10, 0, 1000, '{"file":"a.csv"}'],
    [250, 1, 1000, ""],
    [250, 3, 2000, '{"file":"a.csv","rows":[1,2.50]}'],
    [1999, 3, 2000, ""],
    [2500, 3, 2000, ""],
  ];
  for (const [i, step] of steps.entries()) {
    await run("fast-job", "token-1", step);
    await run("full-job", "", step);
    // The marker proves the later writes took the fast path.
    if (i === 0) await markState("fast-job", "Import");
    const fast = await stored("fast-job");
    const full = await stored("full-job");
    // Timing fields come from each call's own TIME.
    const strip = ({ id, updated_at, estimated_finished_at, rate, ...rest }: JobValue) => {
      void [id, updated_at, estimated_finished_at, rate];
      return rest;
    };
    expect(strip(fast)).toEqual(strip(full));
    expect(Object.keys(fast)).toEqual(Object.keys(full));
  }
  expect((await stored("fast-job")).meta).toEqual({ file: "a.csv", rows: [1, 2.5] });
  // meta keeps its exact text (2.50) on both paths.
  expect(await raw("fast-job")).toContain('"meta":{"file":"a.csv","rows":[1,2.50]}');
  expect(await raw("full-job")).toContain('"meta":{"file":"a.csv","rows":[1,2.50]}');
  expect(await stored("fast-job")).toMatchObject({ count: 2500, error_count: 3, percent: 100 });
  expect(await raw("fast-job")).toContain('"name" : "Import"');
});

/** Rewrites a job's state as an earlier release kept it, with its count set to 999. */
type OlderState = (state: Buffer, seq: number) => Buffer | string;

test.each<[string, OlderState]>([
  [
    "an earlier release's text layout",
    (state, seq) => {
      const token = state.subarray(76, state.indexOf(0, 76)).toString();
      expect(token).toHaveLength(16);
      return `${seq}|999|0|0|||${Date.now()}|${token}`;
    },
  ],
  [
    "an earlier binary layout (version 5)",
    (state) => {
      const older = Buffer.from(state);
      older[0] = 5;
      older.writeDoubleLE(999, 9);
      return older;
    },
  ],
])("a state the script does not know (%s) is not trusted: the full path runs", async (_, older) => {
  const pace = await RedisProgress.start({ redis: client, scope: "fast", total: 100, name: "n" });
  pace.tick(5);
  await pace.flush();
  const writers = writersKey(keys, pace.id);
  const state = (await client.hgetBuffer(writers, "~s")) as Buffer;
  expect(state[0]).toBe(6);
  await client.hset(writers, "~s", older(state, pace.seq));
  pace.tick(1);
  await pace.flush();
  // The full path counts from the stored value, not from the unknown state.
  expect(await stored(pace.id)).toMatchObject({ count: 6, name: "n", status: "running" });
  pace.tick(1);
  await pace.flush();
  expect(await stored(pace.id)).toMatchObject({ count: 7 });
  await pace.finish();
});

test("a cut state (its token never ends) is not trusted either: writes go on", async () => {
  const pace = await RedisProgress.start({ redis: client, scope: "fast", total: 100 });
  pace.tick(2);
  await pace.flush();
  const writers = writersKey(keys, pace.id);
  const state = (await client.hgetBuffer(writers, "~s")) as Buffer;
  // The version byte and the numbers as they are, then 40 bytes with no zero.
  await client.hset(writers, "~s", Buffer.concat([state.subarray(0, 76), Buffer.alloc(40, 65)]));
  pace.tick(1);
  await pace.flush();
  expect(await stored(pace.id)).toMatchObject({ count: 3, status: "running" });
  await pace.finish();
  expect(await stored(pace.id)).toMatchObject({ count: 3, status: "completed" });
});

/** Requests a cancel of `id` and resolves with its time. */
type Cancel = (id: string) => Promise<string>;

test.each<[string, Cancel]>([
  [
    "the cancel script (which drops the fast path)",
    async (id) =>
      (await RedisProgress.requestCancel({ redis: client, scope: "fast", id })).cancel_requested_at,
  ],
  [
    // What the previous release's cancel script did: the value only, seq
    // bumped, the writers hash left alone.
    "an older release's cancel, which changes only the value",
    async (id) => {
      const value = await stored(id);
      const at = new Date().toISOString();
      await client.hset(
        keys.hash,
        id,
        JSON.stringify({ ...value, seq: value.seq + 1, cancel_requested_at: at }),
      );
      return at;
    },
  ],
])(
  "a cancel between writes by %s is answered: the next write takes the full path and keeps it",
  async (_by, cancel) => {
    const pace = await RedisProgress.start({ redis: client, scope: "fast", total: 100, name: "n" });
    pace.tick(1);
    await pace.flush();
    pace.tick(1);
    await pace.flush();
    const cancel_requested_at = await cancel(pace.id);
    pace.tick(1);
    await pace.flush();
    expect(pace.signal.aborted).toBe(true);
    expect(await stored(pace.id)).toMatchObject({ count: 3, cancel_requested_at });
    // A job with a cancel request no longer takes the fast path: no tail copy.
    expect(await client.hmget(writersKey(keys, pace.id), "~t", "~m")).toEqual([null, null]);
    await pace.cancel();
  },
);

test("a child's roll-up into a parent that writes on the fast path is kept by the parent's next write", async () => {
  const parent = await RedisProgress.start({ redis: client, scope: "fast", total: 1 });
  parent.tick(0);
  await parent.flush();
  const child = parent.child({ total: 10 });
  await child.ready;
  child.tick(5);
  await child.flush();
  await parent.flush(); // a heartbeat-like write of the parent
  const value = await stored(parent.id);
  expect(value.children).toMatchObject({ total: 1, weight: 1, progress: 500_000_000 });
  expect(value.percent).toBe(50);
  await child.finish();
  await parent.finish();
});

test("setMeta reaches the stored value, and two trackers of one job with different meta each store theirs", async () => {
  const a = await RedisProgress.start({
    redis: client,
    scope: "fast",
    total: 100,
    meta: { by: "a" },
  });
  a.tick(1);
  await a.flush();
  a.setMeta({ by: "a", step: 2 });
  a.tick(1);
  await a.flush();
  expect((await stored(a.id)).meta).toEqual({ by: "a", step: 2 });

  const b = await RedisProgress.start({
    redis: client,
    scope: "fast",
    id: a.id,
    total: 100,
    meta: { by: "b" },
  });
  b.tick(10);
  await b.flush();
  expect(await stored(a.id)).toMatchObject({ count: 12, meta: { by: "b" } });
  a.tick(1);
  await a.flush();
  expect(await stored(a.id)).toMatchObject({ count: 13, meta: { by: "a", step: 2 } });
  b.tick(1);
  await b.flush();
  expect(await stored(a.id)).toMatchObject({ count: 14, meta: { by: "b" } });
  await a.finish();
  await b.finish();
});

test.each([
  ["the job", true],
  ["the whole scope", false],
])(
  "%s removed between fast-path writes is recreated by the next write, seq going on, pruning and TTLs set",
  async (_what, one) => {
    const pace = await RedisProgress.start({
      redis: client,
      scope: "fast",
      total: 100,
      name: "n",
      meta: { file: "a.csv" },
    });
    pace.tick(7);
    await pace.flush();
    pace.tick(1);
    await pace.flush();
    const seq = pace.seq;
    await RedisProgress.remove({ redis: client, scope: "fast", id: one ? pace.id : undefined });
    expect(await client.hget(keys.hash, pace.id)).toBeNull();
    expect(await client.zscore(keys.expiry, pace.id)).toBeNull();
    pace.tick(1);
    await pace.flush();
    expect(await stored(pace.id)).toMatchObject({
      count: 9,
      name: "n",
      meta: { file: "a.csv" },
      status: "running",
    });
    expect(pace.seq).toBeGreaterThan(seq);
    // Housekeeping ran again: the job is scheduled for pruning and the keys expire.
    expect(Number(await client.zscore(keys.expiry, pace.id))).toBeGreaterThan(Date.now());
    expect(await client.pttl(keys.hash)).toBeGreaterThan(0);
    expect(await client.pttl(keys.expiry)).toBeGreaterThan(0);
    expect(await client.pttl(writersKey(keys, pace.id))).toBeGreaterThan(0);
    await pace.finish();
  },
);
