/**
 * clock.lua's ISO formatting, run by a real redis-server: iso(), with the
 * date of the day it formatted last cached or not, agrees with JavaScript's
 * toISOString() at every edge: the first and last millisecond of a second, a
 * minute, a day, a month, a leap day, a year.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

const clock = readFileSync(join(__dirname, "../../shared/tracker/lua/clock.lua"), "utf8");

/**
 * For each instant, iso() twice: after the previous instant's day (cached when
 * it is the same day), then with its own day cached.
 */
const script = `${clock}
local out = {}
for i = 1, #ARGV do
  local ms = tonumber(ARGV[i])
  out[#out + 1] = iso(ms)
  out[#out + 1] = iso(ms)
end
return out`;

test("iso() gives toISOString() at every edge, with its day cached or not", async () => {
  const edges = [
    "2026-11-28T20:17:11.547Z",
    "2026-11-28T20:17:00.000Z",
    "2026-11-28T20:17:59.999Z",
    "2026-11-28T23:59:59.999Z",
    "2026-11-29T00:00:00.000Z",
    "2026-12-31T23:59:59.999Z",
    "2027-01-01T00:00:00.000Z",
    "2028-02-29T12:00:00.001Z",
    "2028-03-01T00:00:00.010Z",
    "1970-01-01T00:00:00.000Z",
    "2099-12-31T23:59:59.100Z",
  ].map((text) => Date.parse(text));
  // And a spread of instants with every millisecond and second digit.
  const spread = Array.from({ length: 200 }, (_, i) => Date.UTC(2026, 10, 28) + i * 7_777_777 + i);
  const instants = [...edges, ...spread];
  const out = (await client.eval(script, 0, ...instants.map(String))) as string[];
  const expected = instants.flatMap((ms) => {
    const text = new Date(ms).toISOString();
    return [text, text];
  });
  expect(out).toEqual(expected);
});
