import type { Redis } from "ioredis";
import {
  InvalidArgumentError,
  InvalidScopeError,
  RedisProgress,
  type JsonObject,
  type JsonValue,
} from "../../shared";
import { monitorCommands, type CommandLog } from "../helpers/monitor";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;
let log: CommandLog;

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  await client.ping();
  log = await monitorCommands(redis);
});
afterAll(async () => {
  await log.stop();
  await redis.stop();
});

const base = { scope: "user:1", total: 10 };
/** `{ a: { a: ... 1 } }` with `levels` objects. */
function deep(levels: number): JsonObject {
  let v: JsonValue = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v as JsonObject;
}
const badOptions: [string, Record<string, unknown>, new (...args: never[]) => Error][] = [
  ["negative total", { total: -1 }, InvalidArgumentError],
  ["NaN total", { total: Number.NaN }, InvalidArgumentError],
  ["Infinity total", { total: Infinity }, InvalidArgumentError],
  ["fractional total", { total: 1.5 }, InvalidArgumentError],
  ["string total", { total: "10" }, InvalidArgumentError],
  ["missing total", { total: undefined }, InvalidArgumentError],
  ["wildcard scope", { scope: "user:*" }, InvalidScopeError],
  ["character class scope", { scope: "user:[0-9]" }, InvalidScopeError],
  ["hash tag scope", { scope: "user:{1}" }, InvalidScopeError],
  ["empty part", { scope: "user::1" }, InvalidScopeError],
  ["10 KB scope", { scope: "u".repeat(10_240) }, InvalidScopeError],
  ["NUL in scope", { scope: "user:\u0000" }, InvalidScopeError],
  ["full-width digits", { scope: "user:１" }, InvalidScopeError],
  ["array of objects", { scope: [{ user: 1 }] }, InvalidScopeError],
  ["non-string scope", { scope: 42 }, InvalidScopeError],
  ["id with a space", { id: "a b" }, InvalidArgumentError],
  ["id with a wildcard", { id: "job*" }, InvalidArgumentError],
  ["id too long", { id: "x".repeat(129) }, InvalidArgumentError],
  ["empty id", { id: "" }, InvalidArgumentError],
  ["non-string id", { id: 7 }, InvalidArgumentError],
  ["bad prefix", { prefix: "a b" }, InvalidArgumentError],
  ["meta not an object", { meta: [1, 2] }, InvalidArgumentError],
  ["meta too big", { meta: { blob: "x".repeat(20_000) } }, InvalidArgumentError],
  ["meta with a lone surrogate", { meta: { s: "\ud800" } }, InvalidArgumentError],
  ["meta 101 levels deep", { meta: deep(101) }, InvalidArgumentError],
  ["meta that serialises to a string", { meta: new Date(0) }, InvalidArgumentError],
  // eslint-disable-next-line no-sparse-arrays -- the hole is the point
  ["scope array with a hole", { scope: [, "user"] }, InvalidScopeError],
  ["zero interval", { interval: 0 }, InvalidArgumentError],
  ["heartbeat above retention", { heartbeat: 2000, retention: 1000 }, RangeError],
];

test.each(badOptions)(
  "%s is rejected synchronously with a typed error, sending no command",
  async (_label, patch, type) => {
    await log.sync();
    const before = log.commands.length;
    expect(() => new RedisProgress({ redis: client, ...base, ...patch } as never)).toThrow(type);
    await log.sync();
    expect(log.commands.slice(before)).toEqual([]);
  },
);

test("bad tick(n), update(), setTotal() and error(n) throw typed errors and send nothing", async () => {
  const pace = await RedisProgress.start({ redis: client, ...base, interval: 60_000 });
  await log.sync();
  const before = log.commands.length;
  for (const bad of [-1, 1.5, Number.NaN, Infinity, "2", null]) {
    expect(() => pace.tick(bad as number)).toThrow(InvalidArgumentError);
    expect(() => pace.update(bad as number)).toThrow(InvalidArgumentError);
    expect(() => pace.setTotal(bad as number)).toThrow(InvalidArgumentError);
    expect(() => pace.error(bad as number)).toThrow(InvalidArgumentError);
  }
  expect(() => pace.setMeta("x" as never)).toThrow(InvalidArgumentError);
  expect(pace.count).toBe(0);
  await log.sync();
  expect(log.commands.slice(before)).toEqual([]);
  try {
    pace.tick(-1);
  } catch (error) {
    expect((error as InvalidArgumentError).code).toBe("invalid_argument");
    expect((error as Error).message).toBe(
      "Expected `n` to be a non-negative integer up to 10^14, got -1",
    );
  }
  await pace.finish();
});

test("queries reject bad scopes and ids before any command", async () => {
  await log.sync();
  const before = log.commands.length;
  await expect(RedisProgress.jobs({ redis: client, scope: "user:*" })).rejects.toThrow(
    InvalidScopeError,
  );
  await expect(RedisProgress.find({ redis: client, scope: "user:1", id: "a*" })).rejects.toThrow(
    InvalidArgumentError,
  );
  await expect(
    RedisProgress.remove({ redis: client, scope: ["__proto__", {}] as never }),
  ).rejects.toThrow(InvalidScopeError);
  await log.sync();
  expect(log.commands.slice(before)).toEqual([]);
});

test("the deepest meta allowed goes through the write script's full path: shared counts stay exact", async () => {
  const meta = deep(100);
  const a = await RedisProgress.start({ redis: client, scope: "deep", total: 100, meta });
  const b = await RedisProgress.start({ redis: client, scope: "deep", total: 100, id: a.id });
  a.tick(10);
  await a.flush();
  b.tick(5);
  await b.flush();
  a.tick(1);
  await a.flush();
  const job = await RedisProgress.find({ redis: client, scope: "deep", id: a.id });
  expect(job?.count).toBe(16);
  expect(JSON.stringify(job?.meta)).toBe(JSON.stringify(meta));
  await Promise.all([a.finish(), b.finish()]);
});
