/**
 * Reference counting: one SUBSCRIBE per scope however many clients watch it,
 * UNSUBSCRIBE when the last one leaves (by unsubscribe or by disconnect), and
 * no leak after thousands of joins and leaves.
 */
import { createGateway } from "../../server";
import { RedisProgress } from "../../shared";
import { TEST_SECRET, TestGateway, subscribe, unsubscribe, waitFor } from "../helpers/gateway";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { limits: { subscribeBurst: 100_000, subscribeRate: 100_000 } },
  });
});

afterAll(async () => {
  await tg.stop();
});

async function channels(): Promise<string[]> {
  return ((await tg.redis.client().call("PUBSUB", "CHANNELS")) as string[]).sort();
}

async function liveScopes(): Promise<number> {
  const text = await (await fetch(`${tg.url}/metrics`)).text();
  const match = /^redis_progress_live_scopes (\d+)$/m.exec(text);
  return Number(match?.[1]);
}

test("one SUBSCRIBE per scope; PUBSUB CHANNELS is empty after everyone leaves", async () => {
  const token = await tg.token(["rc:*"]);
  const sockets = await Promise.all(Array.from({ length: 5 }, () => tg.connect(token)));
  for (const socket of sockets) {
    expect((await subscribe(socket, "rc:a")).ok).toBe(true);
    expect((await subscribe(socket, "rc:b")).ok).toBe(true);
  }
  expect(await channels()).toEqual(["resque:pace:rc:a", "resque:pace:rc:b"]);
  const numsub = (await tg.redis.client().call("PUBSUB", "NUMSUB", "resque:pace:rc:a")) as [
    string,
    number,
  ];
  expect(numsub[1]).toBe(1);
  expect(await liveScopes()).toBe(2);

  // Leaving by unsubscribe...
  for (const socket of sockets) expect(await unsubscribe(socket, "rc:a")).toEqual({ ok: true });
  await waitFor(async () => (await channels()).join() === "resque:pace:rc:b");
  // ...and by disconnecting.
  for (const socket of sockets.slice(0, 4)) socket.disconnect();
  expect(await channels()).toEqual(["resque:pace:rc:b"]);
  sockets[4]?.disconnect();
  await waitFor(async () => (await channels()).length === 0, { what: "PUBSUB CHANNELS empty" });
  expect(await liveScopes()).toBe(0);
});

test("no leak after thousands of joins and leaves, including disconnects mid-subscribe", async () => {
  const token = await tg.token(["rc:*"]);
  const scopes = Array.from({ length: 20 }, (_, i) => `rc:s${i}`);
  const pick = () => scopes[Math.floor(Math.random() * scopes.length)] as string;
  let operations = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let round = 0; round < 5; round++) {
        const socket = await tg.connect(token);
        const held = new Set<string>();
        for (let i = 0; i < 60; i++) {
          const scope = pick();
          if (held.has(scope) && Math.random() < 0.5) {
            expect(await unsubscribe(socket, scope)).toEqual({ ok: true });
            held.delete(scope);
          } else {
            const ack = await subscribe(socket, scope);
            expect(ack.ok).toBe(true);
            held.add(scope);
          }
          operations += 1;
        }
        // Leave with requests still in flight: the gateway must not leak them.
        socket.emit("subscribe", { scope: pick() }, () => {});
        socket.emit("subscribe", { scope: pick() }, () => {});
        socket.disconnect();
      }
    }),
  );
  expect(operations).toBeGreaterThanOrEqual(2000);
  await waitFor(async () => (await channels()).length === 0 && (await liveScopes()) === 0, {
    what: "no channel and no live scope left",
  });
});

test("unsubscribe while the subscribe is still waiting on Redis leaves nothing behind", async () => {
  const socket = await tg.connect(await tg.token(["rc:*"]));
  const acks = Array.from({ length: 10 }, (_, i) => subscribe(socket, `rc:race${i}`));
  const unsubs = Array.from({ length: 10 }, (_, i) => unsubscribe(socket, `rc:race${i}`));
  // Requests of one scope take effect in order: each subscribe succeeds, then its unsubscribe.
  for (const ack of await Promise.all(acks)) expect(ack.ok).toBe(true);
  for (const ack of await Promise.all(unsubs)) expect(ack).toEqual({ ok: true });
  await waitFor(async () => (await channels()).length === 0 && (await liveScopes()) === 0, {
    what: "no channel left",
  });
  // A duplicate subscribe is answered with the same snapshot and counted once.
  const [first, second] = await Promise.all([
    subscribe(socket, "rc:dup"),
    subscribe(socket, "rc:dup"),
  ]);
  expect(first.ok && second.ok).toBe(true);
  expect(await unsubscribe(socket, "rc:dup")).toEqual({ ok: true });
  await waitFor(async () => (await channels()).length === 0, { what: "rc:dup released" });
});

test("subscribe, unsubscribe, subscribe sent at once leave the socket subscribed (mount, unmount, mount)", async () => {
  const socket = await tg.connect(await tg.token(["rc:*"]));
  const [first, left, again] = await Promise.all([
    subscribe(socket, "rc:remount"),
    unsubscribe(socket, "rc:remount"),
    subscribe(socket, "rc:remount"),
  ]);
  expect(first.ok).toBe(true);
  expect(left).toEqual({ ok: true });
  expect(again).toMatchObject({ ok: true, scope: "rc:remount" });
  expect(await channels()).toEqual(["resque:pace:rc:remount"]);
  const update = new Promise((resolve) => socket.once("progress", resolve));
  const pace = await RedisProgress.start({ redis: tg.redis.url, scope: "rc:remount", total: 1 });
  await pace.finish();
  expect(await update).toMatchObject({ scope: "rc:remount" });
  socket.disconnect();
  await waitFor(async () => (await channels()).length === 0, { what: "rc:remount released" });
});

test("subscribe, unsubscribe, subscribe, unsubscribe sent at once leave the socket unsubscribed", async () => {
  const socket = await tg.connect(await tg.token(["rc:*"]));
  const acks = await Promise.all([
    subscribe(socket, "rc:twice"),
    unsubscribe(socket, "rc:twice"),
    subscribe(socket, "rc:twice"),
    unsubscribe(socket, "rc:twice"),
  ]);
  expect(acks.map((a) => a.ok)).toEqual([true, true, true, true]);
  await waitFor(async () => (await channels()).length === 0 && (await liveScopes()) === 0, {
    what: "rc:twice released",
  });
});

test("clients joining a live scope get the held state without a Redis command each", async () => {
  const token = await tg.token(["rc:*"]);
  const first = await tg.connect(token);
  expect((await subscribe(first, "rc:held")).ok).toBe(true);
  const admin = tg.redis.client();
  await admin.config("RESETSTAT");
  const others = await Promise.all(Array.from({ length: 20 }, () => tg.connect(token)));
  const acks = await Promise.all(others.map((socket) => subscribe(socket, "rc:held")));
  expect(acks.every((ack) => ack.ok)).toBe(true);
  const stats = await admin.info("commandstats");
  expect(stats).not.toMatch(/cmdstat_(evalsha|eval|hgetall|subscribe):/);
  for (const socket of [first, ...others]) socket.disconnect();
  await waitFor(async () => (await channels()).length === 0, { what: "rc:held released" });
});

test("a gateway closed on a caller's Redis client leaves no listener on it", async () => {
  const client = tg.redis.client();
  await client.ping();
  const before = { error: client.listenerCount("error"), ready: client.listenerCount("ready") };
  for (let i = 0; i < 3; i++) {
    const gateway = createGateway({ secret: TEST_SECRET, redis: client });
    await gateway.listen();
    await gateway.close();
  }
  expect({ error: client.listenerCount("error"), ready: client.listenerCount("ready") }).toEqual(
    before,
  );
});
