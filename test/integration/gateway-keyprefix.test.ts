/**
 * A gateway and a tracker given the same ioredis client options with a
 * `keyPrefix`: ioredis prefixes the scripts' KEYS, so the data and the
 * channel the scripts publish on are `app:resque:pace:<scope>`. The gateway
 * must subscribe to that channel (not the unprefixed one): a watcher gets the
 * snapshot, then live progress; its cancel and reads find the job too.
 */
import type { Redis } from "ioredis";
import type { SubscribeAck } from "../../shared/events";
import type { JobValue } from "../../shared/job";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestGateway, subscribe, unsubscribe, waitFor } from "../helpers/gateway";
import { TestRedis } from "../helpers/redis-server";

const KEY_PREFIX = "app:";

let redis: TestRedis;
let client: Redis;
let plain: Redis;
let tg: TestGateway;

beforeAll(async () => {
  redis = await TestRedis.start();
  // The same options for the worker and the gateway, as a user would pass them.
  client = redis.client({ keyPrefix: KEY_PREFIX });
  plain = redis.client();
  tg = await TestGateway.start({ redis, gateway: { redis: client } });
});

afterAll(async () => {
  await tg.stop();
  await redis.stop();
});

/** The channels the gateway (or anyone) is subscribed to. */
async function channels(): Promise<string[]> {
  return ((await plain.pubsub("CHANNELS", "*")) as string[]).sort();
}

test("a watcher gets the snapshot, then live progress, and can cancel", async () => {
  const scope = "user:1";
  const pace = await RedisProgress.start({ redis: client, scope, total: 10, interval: 1 });
  expect(await plain.exists(`${KEY_PREFIX}resque:pace:${scope}`)).toBe(1);

  const socket = await tg.connect(await tg.token([scope], { cancel: [scope] }));
  const seen = new Map<string, JobValue>();
  socket.on("progress", (message) => {
    for (const [id, value] of Object.entries(message.jobs)) {
      const last = seen.get(id);
      if (value !== null && (last === undefined || value.seq > last.seq)) seen.set(id, value);
    }
  });
  const ack = (await subscribe(socket, scope)) as Extract<SubscribeAck, { ok: true }>;
  expect(ack).toMatchObject({ ok: true, jobs: { [pace.id]: { count: 0 } } });
  pace.tick(5);
  await pace.flush();
  await waitFor(() => seen.get(pace.id)?.count === 5, { what: "live progress" });
  // Subscribed where the scripts publish: the hash key as Redis names it.
  expect(await channels()).toEqual([`${KEY_PREFIX}resque:pace:${scope}`]);

  // The cancel script finds the job under the prefixed keys, and its publish arrives.
  const answer = await socket.timeout(10_000).emitWithAck("cancel", { scope, id: pace.id });
  expect(answer).toEqual({ ok: true, cancel_requested_at: expect.any(String) });
  await waitFor(() => seen.get(pace.id)?.cancel_requested_at !== undefined, {
    what: "the cancel request to be published",
  });

  expect(await unsubscribe(socket, scope)).toEqual({ ok: true });
  await waitFor(async () => (await channels()).length === 0, {
    what: "the gateway to unsubscribe the prefixed channel",
  });
  await pace.finish();
});

test("a scope nobody watches is read under the prefixed keys (/api/jobs)", async () => {
  const scope = "user:2";
  const pace = await RedisProgress.start({ redis: client, scope, total: 4 });
  pace.tick(3);
  await pace.flush();
  const response = await fetch(`${tg.url}/api/jobs?scope=${scope}`, {
    headers: { authorization: `Bearer ${await tg.token([scope])}` },
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ scope, jobs: { [pace.id]: { count: 3 } } });
  await pace.finish();
});
