/**
 * Prebuilt writes (write-6.lua, shared/tracker/prebuilt.ts): after a write to
 * a plain running job, the tracker builds its next value and state itself and
 * the script stores them when nothing changed in between. A prebuilt value
 * must be byte for byte what the full path writes, and the script must run
 * the full path whenever someone else changed the job (cancel, a child's
 * roll-up, remove, another tracker, a writer that does not know the state).
 */
import type { Redis } from "ioredis";
import { RedisProgress, type JobValue } from "../../shared";
import { asJobValue } from "../../shared/job";
import { readScope } from "../../shared/tracker/queries";
import { DEFAULT_PREFIX, scopeKeys, writersKey, type ScopeKeys } from "../../shared/keys";
import {
  baseFromReply,
  luaNumberText,
  nextBase,
  prebuild,
  packState,
  readState,
  type BuildBase,
  type JobState,
} from "../../shared/tracker/prebuilt";
import { runScript } from "../../shared/tracker/scripts";
import { packConstants, packNumbers } from "../../shared/tracker/write-args";
import { monitorCommands } from "../helpers/monitor";
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

async function raw(id: string, where: ScopeKeys = keys): Promise<string> {
  const value = await client.hget(where.hash, id);
  if (value === null) throw new Error(`job ${id} is not stored`);
  return value;
}

async function stored(id: string): Promise<JobValue> {
  return JSON.parse(await raw(id)) as JobValue;
}

/**
 * Rewrites the stored value's started_at in place, to a date of the same
 * length: the job's state still matches, so only a prebuilt write (which
 * carries the tail its tracker got back) puts the original back; the full
 * path keeps what is stored.
 */
async function editStartedAt(id: string): Promise<string> {
  const text = await raw(id);
  const match = /"started_at":"(\d{4})/.exec(text);
  if (match?.[1] === undefined) throw new Error("no started_at");
  const edited = text.replace(`"started_at":"${match[1]}`, `"started_at":"1999`);
  await client.hset(keys.hash, id, edited);
  return match[1];
}

test("a plain running job's writes are prebuilt by its tracker and stored as sent", async () => {
  const pace = await RedisProgress.start({
    redis: client,
    scope: "fast",
    total: 100,
    name: "Import",
    meta: { file: "a.csv" },
  });
  const startedYear = await editStartedAt(pace.id);
  // The first write's reply gave the tracker the state and tail to build on.
  pace.tick(5);
  await pace.flush();
  let value = await stored(pace.id);
  expect(value.started_at.slice(0, 4)).toBe(startedYear);
  expect(value).toMatchObject({ count: 5, percent: 5, name: "Import", meta: { file: "a.csv" } });
  const state = readState((await client.hget(writersKey(keys, pace.id), "~s")) as string);
  expect(state).toMatchObject({
    seq: pace.seq,
    count: 5,
    length: Buffer.byteLength(await raw(pace.id)),
  });

  // And again, with a new meta spliced in.
  await editStartedAt(pace.id);
  pace.setMeta({ file: "a.csv", step: 2 });
  pace.tick(5);
  await pace.flush();
  value = await stored(pace.id);
  expect(value.started_at.slice(0, 4)).toBe(startedYear);
  expect(value).toMatchObject({ count: 10, meta: { file: "a.csv", step: 2 } });

  // The last write takes the full path, which keeps what is stored.
  await editStartedAt(pace.id);
  await pace.finish();
  expect(await stored(pace.id)).toMatchObject({ status: "completed", count: 10 });
  expect((await stored(pace.id)).started_at.slice(0, 4)).toBe("1999");
});

/** One write as the tracker sends it, prebuilt on `base` when given. */
async function scriptWrite(
  where: ScopeKeys,
  id: string,
  step: Step,
  base: BuildBase | null,
): Promise<{ base: BuildBase | null; prebuilt: boolean }> {
  const [count, errors, total, meta, now, lastSeen = 0] = step;
  const built =
    base === null
      ? null
      : prebuild(base, {
          count,
          errors,
          total,
          lastSeen,
          now,
          alpha: 0.3,
          heartbeat: 30000,
          retention: 600000,
          meta,
          token: "token-1",
        });
  const reply = await runScript(
    client,
    "write",
    [where.hash, where.expiry, writersKey(where, id)],
    [
      packNumbers({
        count,
        errors,
        total,
        seq: lastSeen,
        retention: 600000,
        alpha: 0.3,
        now,
        builtOnLength: built?.on.state.length ?? 0,
      }),
      "running",
      meta,
      "",
      packConstants({
        scope: where === keys ? "fast" : "full",
        id,
        trackerId: "tracker-1",
        heartbeat: 30000,
        retention: 600000,
        publish: "PUBLISH",
        token: "token-1",
        startedAt: "2026-11-28T10:00:00.000Z",
        name: "Impört «Straße» ✓", // bytes are not characters
        parent: "",
        weight: 1,
        completeWithChildren: false,
      }),
      built?.value ?? "",
      built?.on.text ?? "",
      built?.text ?? "",
    ],
    { buffers: true },
  );
  const applied = { count, errors };
  if (reply === 1 && built !== null) {
    return {
      prebuilt: true,
      base: nextBase(built, applied),
    };
  }
  const [, , , , , , state, tail] = reply as Buffer[];
  if (state === undefined || tail === undefined) throw new Error("a short reply");
  return { prebuilt: false, base: baseFromReply(state.toString(), tail.toString(), applied) };
}

/** count, errors, total, meta ("" = keep), now (ms), the highest seq the tracker saw */
type Step = [number, number, number, string, number, number?];

/**
 * Writes `steps` to job `id` twice: prebuilt where the tracker can (scope
 * "fast") and always through the full path (scope "full"), and expects the
 * same value bytes and the same state after every step (its numbers are
 * written as Lua's %.17g or JavaScript's shortest text, which read back as the
 * same doubles; a prebuilt write compares a state only with the text it was
 * stored as). Returns how many steps were prebuilt.
 */
async function writeBothWays(id: string, steps: Step[]): Promise<number> {
  const full = scopeKeys(DEFAULT_PREFIX, "full");
  let fastBase: BuildBase | null = null;
  let prebuilt = 0;
  for (const step of steps) {
    const fast = await scriptWrite(keys, id, step, fastBase);
    const slow = await scriptWrite(full, id, step, null);
    fastBase = fast.base;
    if (fast.prebuilt) prebuilt += 1;
    expect(slow.prebuilt).toBe(false);
    expect(await raw(id)).toBe(await raw(id, full));
    const fastState = readState((await client.hget(writersKey(keys, id), "~s")) ?? "");
    expect(fastState).not.toBeNull();
    expect(fastState).toEqual(readState((await client.hget(writersKey(full, id), "~s")) ?? ""));
    // What the tracker builds its next write on is the stored text itself.
    if (fast.base !== null) {
      expect(fast.base.text).toBe(await client.hget(writersKey(keys, id), "~s"));
    }
  }
  return prebuilt;
}

test("a prebuilt value is byte for byte, and its state number for number, what the full path writes", async () => {
  const t0 = Date.UTC(2026, 10, 28, 23, 59, 58, 123);
  const steps: Step[] = [
    [0, 0, 1000, "", t0],
    [10, 0, 1000, '{"file":"ä.csv"}', t0 + 1000],
    [250, 1, 1000, "", t0 + 2_337], // past midnight
    [250, 3, 2000, '{"file":"a.csv","rows":[1,2.50]}', t0 + 4_000], // no progress
    [251, 3, 2000, "", t0 + 4_000], // no time
    [777, 3, 2000, "", t0 + 7_777],
    [1999, 3, 2000, "", t0 + 9_999],
    [2500, 3, 2000, "", t0 + 10_001], // past the total
    [2600, 3, 3_000_000, "", t0 + 80_000], // housekeeping due: the full path
    [2601, 3, 3_000_000, "", t0 + 80_013],
    [123_456_789, 4, 10 ** 13, "", t0 + 90_000],
    [123_456_790, 4, 10 ** 13, "", t0 + 90_100, 500], // the tracker saw a later seq
  ];
  // Every write but the first and the one due for housekeeping.
  expect(await writeBothWays("job-1", steps)).toBe(steps.length - 2);
  expect(await stored("job-1")).toMatchObject({
    count: 123_456_790,
    error_count: 4,
    seq: 501,
    meta: { file: "a.csv", rows: [1, 2.5] },
  });
  expect(await raw("job-1")).toContain('"meta":{"file":"a.csv","rows":[1,2.50]}');
  expect(await raw("job-1")).toContain('"rate":');
});

test("rates from a few items a day to billions a second are shown alike both ways", async () => {
  const t0 = Date.UTC(2026, 10, 29, 8);
  const steps: Step[] = [[0, 0, 10 ** 6, "", t0]];
  let now = t0;
  let count = 0;
  // Ordinary rates, then none: the EMA decays by 0.7 a write, through 1e-4
  // items/s (the end of rounding to 6 decimals) down to about 1e-7. One item
  // left, so that the ETA stays before the year 9999 (else: the full path).
  for (let i = 0; i < 12; i++) steps.push([(count += 7 + i), 0, 10 ** 6, "", (now += 977)]);
  for (let i = 0; i < 45; i++) steps.push([count, 0, count + 1, "", (now += 1_000)]);
  // A billion items a millisecond: a rate past 1e8, shown with every digit.
  steps.push([(count += 10 ** 9), 0, 10 ** 13, "", (now += 1)]);
  steps.push([(count += 3 * 10 ** 9), 0, 10 ** 13, "", (now += 3)]);
  const prebuilt = await writeBothWays("job-rates", steps);
  // All but the first, and those whose housekeeping was due (once a minute).
  expect(prebuilt).toBeGreaterThanOrEqual(steps.length - 3);
  const shown: number[] = [];
  for (const step of steps) {
    await scriptWrite(scopeKeys(DEFAULT_PREFIX, "sweep"), "job-rates", step, null);
    const value = JSON.parse(
      (await client.hget(scopeKeys(DEFAULT_PREFIX, "sweep").hash, "job-rates")) ?? "{}",
    ) as JobValue;
    if (value.rate !== undefined) shown.push(value.rate);
  }
  expect(Math.min(...shown)).toBeLessThan(1e-4);
  expect(Math.max(...shown)).toBeGreaterThan(1e8);
  expect(shown.some((r) => r > 1 && r < 100 && !Number.isInteger(r))).toBe(true);
  for (const rate of shown) {
    if (rate >= 1e-4 && rate < 1e8) expect(Math.round(rate * 1e6) / 1e6).toBe(rate);
  }
});

test("an ETA past the year 9999 is unknown both ways; a clock that went back takes the full path", async () => {
  const t0 = Date.UTC(2026, 10, 28, 12);
  const steps: Step[] = [
    [0, 0, 10 ** 15, "", t0],
    // 1 item/s: the ETA is 10^15 s away, past 9999-12-31: unknown (null).
    [1, 0, 10 ** 15, "", t0 + 1_000],
    [2, 0, 10 ** 15, "", t0 + 2_000],
  ];
  expect(await writeBothWays("job-2", steps)).toBe(2);
  const far = await stored("job-2");
  expect(far.estimated_finished_at).toBeNull();
  expect(asJobValue(far)).not.toBeNull();
  const later: Step[] = [
    [20, 0, 20, "", t0 + 3_000], // done: the ETA is now
    [21, 0, 40, "", t0 - 5_000], // the clock went back before the last housekeeping
    [22, 0, 40, "", t0 - 4_000],
  ];
  // This series starts without a base (the full path), then the clock goes back.
  expect(await writeBothWays("job-2", later)).toBe(1);
  expect((await stored("job-2")).count).toBe(22);
});

test("a job that stalls keeps a value every reader takes, its ETA unknown once past 9999", async () => {
  // 2 of 1,000 items, then heartbeat writes 30 s apart with no progress: the
  // rate's EMA decays by 0.7 a write and the ETA runs past the year 9999.
  // Ending now: the read applies retention (10 minutes here) by the clock.
  const t0 = Date.now() - 1_000 - 60 * 30_000;
  const steps: Step[] = [
    [0, 0, 1000, "", t0],
    [2, 0, 1000, "", t0 + 1_000],
  ];
  for (let i = 1; i <= 60; i++) steps.push([2, 0, 1000, "", t0 + 1_000 + i * 30_000]);
  await writeBothWays("job-stalled", steps);
  const value = await stored("job-stalled");
  expect(value.status).toBe("running");
  expect(value.estimated_finished_at).toBeNull();
  expect(value.rate).toBeGreaterThan(0);
  expect(Object.keys(await readScope({ redis: client, scope: "fast" }))).toEqual(["job-stalled"]);
});

test("luaNumberText() writes numbers as Lua's tostring() and cjson do", async () => {
  const values = [
    1,
    0.5,
    1 / 3,
    2 / 3,
    1234.5678901234567,
    99999999999999.5,
    12345678901234.5,
    1e14,
    1.5e15,
    123456789012345,
    0.0001,
    0.00012345678901234,
    0.00001,
    1.23e-7,
    5e-324,
    1e21,
    2 ** 53,
    999999.9999999999,
    9.99999999999995,
    0.1 + 0.2,
    42,
    -7.25,
    1e-5 * 3,
    -12345678901234.5, // ties: printf rounds them to even, JavaScript up
    12345678901233.5,
    2 ** -21, // ties whose 15-digit form has an exponent
    10000000000000500,
    0.000012345678901234,
    ...Array.from({ length: 200 }, (_, i) => Math.exp(i / 7 - 12) * (1 + i / 997)),
  ];
  // The full path writes `rate` with cjson, whose numbers are "%.14g" too.
  const lua =
    "local out = {} for i = 1, #ARGV do local x = tonumber(ARGV[i]) " +
    "out[2 * i - 1] = tostring(x) out[2 * i] = cjson.encode(x) end return out";
  // %.17g round-trips every double through Lua's tonumber().
  const texts = values.map((x) => x.toPrecision(17));
  expect(await client.eval(lua, 0, ...texts)).toEqual(
    values.flatMap((x) => [luaNumberText(x), luaNumberText(x)]),
  );
});

/**
 * Rewrites a job's state as an earlier release kept it, with its count set to
 * 999, housekeeping just done and a rate of a billion items a ms.
 */
type OlderState = (state: JobState) => Buffer | string;

test.each<[string, OlderState]>([
  [
    "an earlier release's text layout",
    (state) => `${state.seq}|999|0|0|||${Date.now()}|${state.token}`,
  ],
  [
    "the binary layout of version 7",
    (state) => {
      const token = Buffer.from(state.token);
      const older = Buffer.alloc(65 + token.length + 1);
      older[0] = 7;
      [state.seq, 999, 0, state.updatedMs, 1e9, 1, Date.now(), state.length].forEach((n, k) =>
        older.writeDoubleLE(n, 1 + 8 * k),
      );
      token.copy(older, 65);
      return older;
    },
  ],
  [
    "this layout under another version",
    (state) =>
      packState({ ...state, count: 999, emaDn: 1e9, emaDt: 1, refreshedMs: Date.now() }).replace(
        /^8 /,
        "9 ",
      ),
  ],
])("a state the script does not know (%s) is not trusted: the full path runs", async (_, older) => {
  const pace = await RedisProgress.start({ redis: client, scope: "fast", total: 100, name: "n" });
  pace.tick(5);
  await pace.flush();
  const writers = writersKey(keys, pace.id);
  const state = readState((await client.hget(writers, "~s")) ?? "");
  expect(state).toMatchObject({ seq: pace.seq });
  expect(state?.token).toHaveLength(16);
  await client.hset(writers, "~s", older(state as JobState));
  const scheduled = Number(await client.zscore(keys.expiry, pace.id));
  // The next write's time must differ from the last housekeeping's.
  for (const until = Date.now() + 2; Date.now() < until;);
  pace.tick(1);
  await pace.flush();
  // The full path counts from the stored value, not from the unknown state,
  // takes no rate from it and does the housekeeping it says was just done.
  const value = await stored(pace.id);
  expect(value).toMatchObject({ count: 6, name: "n", status: "running" });
  expect(value.rate ?? 0).toBeLessThan(1e6);
  expect(Number(await client.zscore(keys.expiry, pace.id))).toBeGreaterThan(scheduled);
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
  await client.hset(writers, "~s", Buffer.concat([state.subarray(0, 65), Buffer.alloc(40, 65)]));
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
    "the cancel script (which takes the token from the state)",
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
    // A job with a cancel request is no longer prebuilt: its state has no token.
    const state = await client.hget(writersKey(keys, pace.id), "~s");
    expect(readState(state as string)).toMatchObject({ seq: pace.seq, token: "" });
    await pace.cancel();
  },
);

test("a child's roll-up into a parent that prebuilds its writes is kept by the parent's next write", async () => {
  const parent = await RedisProgress.start({ redis: client, scope: "fast", total: 1 });
  parent.tick(0);
  await parent.flush();
  const child = parent.child({ total: 10 });
  await child.ready;
  // The child's first roll-up took the token from the parent's state.
  const parentState = await client.hget(writersKey(keys, parent.id), "~s");
  expect(readState(parentState as string)).toMatchObject({ token: "" });
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

test("a prebuilt write sends its meta once, inside its value; the full path takes it from there", async () => {
  const notes = "n".repeat(2000);
  const log = await monitorCommands(redis);
  try {
    const a = await RedisProgress.start({
      redis: client,
      scope: "fast",
      total: 100,
      meta: { notes },
    });
    a.tick(1);
    await a.flush();
    // Another tracker of the job writes: a's next prebuilt value no longer matches.
    const b = await RedisProgress.start({ redis: client, scope: "fast", id: a.id, total: 100 });
    b.tick(1);
    await b.flush();
    a.setMeta({ notes, step: 3 });
    a.tick(1);
    await a.flush();
    await log.sync();
    // evalsha, sha, 3, three keys, ARGV[1..8]: ARGV[3] (meta) is at 8, ARGV[6]
    // (a prebuilt value) at 11.
    const prebuilt = log.commands.filter(
      (c) => c[0]?.toLowerCase() === "evalsha" && c[11] !== undefined && c[11] !== "",
    );
    // a's, b's (no meta of its own: "" keeps the stored one), a's again.
    expect(prebuilt.map((c) => c[8])).toEqual(["=", "", "="]);
    for (const command of prebuilt) expect(command.join("\n").split(notes).length - 1).toBe(1);
    expect(prebuilt[2]?.[11]).toContain('"step":3');
    // The full path ran (b's tick counts) and stored the meta the value carried.
    expect(await stored(a.id)).toMatchObject({ count: 3, meta: { notes, step: 3 } });
    await a.finish();
    await b.finish();
  } finally {
    await log.stop();
  }
});

test.each([
  ["the job", true],
  ["the whole scope", false],
])(
  "%s removed between prebuilt writes is recreated by the next write, seq going on, pruning and TTLs set",
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
