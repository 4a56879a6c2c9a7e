/**
 * The MONITOR helper that the "nothing was sent" tests rely on: it must record
 * arguments exactly (or those tests could pass on a garbled log) and must start
 * while other clients are busy (ioredis's own monitor() failed in CI with
 * "Command queue state error" when an INFO arrived with MONITOR's +OK).
 */
import type { Redis } from "ioredis";
import { monitorCommands } from "../helpers/monitor";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await TestRedis.start();
  client = redis.client();
  await client.ping();
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

test("records each argument byte for byte: quotes, backslashes, control characters, UTF-8", async () => {
  const log = await monitorCommands(redis);
  const values = [
    'say "hi"',
    "back\\slash",
    "line\r\nDEL x",
    "tab\tbell\u0007nul\u0000",
    "user:٣٤٢١ ✓",
    "",
  ];
  await client.call("ECHO", values[0] as string);
  await client.mset(...values.flatMap((v, i) => [`k${i}`, v]));
  await log.sync();
  await log.stop();
  expect(log.commands).toEqual([
    ["ECHO", values[0]],
    ["mset", ...values.flatMap((v, i) => [`k${i}`, v])],
  ]);
});

test("starts while other clients send commands without pause", async () => {
  const busy = Array.from({ length: 4 }, () => redis.client());
  let running = true;
  const loops = busy.map(async (c) => {
    while (running) await c.info("server");
  });
  try {
    for (let i = 0; i < 20; i++) {
      const log = await monitorCommands(redis);
      // On a loaded machine the busy clients may send nothing between MONITOR's
      // +OK and the first marker: sync again until one of theirs is logged.
      const deadline = Date.now() + 5000;
      do await log.sync();
      while (!log.commands.some((args) => args[0] === "info") && Date.now() < deadline);
      await log.stop();
      expect(log.commands.some((args) => args[0] === "info")).toBe(true);
    }
  } finally {
    running = false;
    await Promise.all(loops);
    for (const c of busy) c.disconnect();
  }
});
