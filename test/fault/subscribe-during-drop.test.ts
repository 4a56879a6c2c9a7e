/**
 * A SUBSCRIBE in flight when the gateway's pub/sub connection drops. ioredis
 * drops such a command without settling it, so the subscribe used to wait the
 * whole `redisTimeout` before being answered `unavailable`, while the gateway
 * was often connected and resubscribed long before. It is now failed when the
 * connection closes.
 */
import pino from "pino";
import { TestGateway, subscribe, waitFor } from "../helpers/gateway";
import { TestRedis } from "../helpers/redis-server";

const REDIS_TIMEOUT = 20_000;

let redis: TestRedis;
let tg: TestGateway;
const logs: { msg: string; err?: { message?: string } }[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  const logger = pino(
    { level: "warn" },
    { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
  );
  tg = await TestGateway.start({ redis, gateway: { redisTimeout: REDIS_TIMEOUT, logger } });
});

afterAll(async () => {
  await tg.stop();
  await redis.stop();
});

test("a subscribe whose SUBSCRIBE is lost with the connection is answered at once, not after redisTimeout", async () => {
  const scope = "drop:1";
  const socket = await tg.connect(await tg.token([scope]));
  // Both of the gateway's connections up (the pub/sub one ready for SUBSCRIBE).
  await waitFor(async () => (await fetch(`${tg.url}/healthz`)).status === 200, {
    what: "the gateway to be healthy",
  });
  redis.freeze();
  const ack = subscribe(socket, scope);
  // The gateway has sent SUBSCRIBE to the frozen server and waits for it.
  await waitFor(
    () =>
      [...tg.gateway.io.of("/").sockets.values()].some(
        (s) => (s.data as { pending?: Map<string, unknown> }).pending?.has(scope) === true,
      ),
    { what: "the subscribe to wait on Redis" },
  );
  await redis.kill();
  // Answered long before REDIS_TIMEOUT (the ack's own timeout is 10 s).
  expect(await ack).toMatchObject({ ok: false, error: { code: "unavailable" } });
  const failure = logs.find((line) => line.msg.includes("subscribe failed"));
  expect(failure?.err?.message).toMatch(/closed before Redis answered/);
  await redis.restart();
  await waitFor(async () => (await subscribe(socket, scope)).ok, {
    what: "a subscribe to succeed once Redis is back",
  });
});
