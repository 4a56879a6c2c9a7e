/**
 * Abuse 13: floods against the gateway process (the CLI with its defaults).
 *
 * - A packet above maxHttpBufferSize (16 KB) disconnects that socket only, on
 *   WebSocket and on polling, and also as an oversized CONNECT: another client
 *   keeps its connection and its updates.
 * - 1,000 subscribes per second from one socket are rate-limited (burst 20,
 *   5/s), and only the allowed ones reach Redis; meanwhile another client's
 *   round trips and the gateway's event-loop lag (its /metrics) are measured and
 *   reported, with only a generous sanity bound asserted.
 * - 2,000 sockets connecting at once are all served: connected, subscribed,
 *   and each gets the next update.
 */
import { io } from "socket.io-client";
import { signScopeToken } from "../../server";
import { RedisProgress } from "../../shared";
import { TEST_SECRET, subscribe, type ClientSocket } from "../helpers/gateway";
import { GatewayProcess, commandCounts, killChildren, report, since } from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;
let gateway: GatewayProcess;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  redis = await TestRedis.start();
  gateway = await GatewayProcess.start({ REDIS_URL: redis.url });
});

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  killChildren();
  await redis.stop();
});

const token = (scopes: string[]) => signScopeToken({ secret: TEST_SECRET, scopes, ttl: 600 });

function client(auth: string, options: Parameters<typeof io>[1] = {}): ClientSocket {
  const socket: ClientSocket = io(gateway.url, {
    auth: { token: auth },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  sockets.push(socket);
  return socket;
}

function connect(socket: ClientSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
}

/** The gateway's event-loop lag since the previous scrape, in ms (max and p99). */
async function lag(): Promise<{ max: number; p99: number }> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const value = (quantile: string) => {
    const match = new RegExp(
      `redis_progress_event_loop_lag_seconds\\{quantile="${quantile}"\\} ([0-9.e+-]+)`,
    ).exec(text);
    return Math.round(Number(match?.[1] ?? Number.NaN) * 1000);
  };
  return { max: value("max"), p99: value("0.99") };
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ??
  Number.NaN;

/** A bystander: subscribed to a scope that a worker updates, counting what arrives. */
async function bystander(scope: string): Promise<{ socket: ClientSocket; updates: () => number }> {
  const socket = client(await token([scope]));
  await connect(socket);
  let updates = 0;
  socket.on("progress", () => (updates += 1));
  expect((await subscribe(socket, scope)).ok).toBe(true);
  return { socket, updates: () => updates };
}

test("a packet above maxHttpBufferSize disconnects that socket only (WebSocket, polling, CONNECT)", async () => {
  const scope = "flood:big";
  const victim = await bystander(scope);
  const pace = await RedisProgress.start({ redis: redis.url, scope, total: 100, interval: 1 });
  const big = "x".repeat(20_480);

  for (const transports of [["websocket"], ["polling"]]) {
    const attacker = client(await token(["flood:*"]), { transports });
    await connect(attacker);
    const gone = new Promise<string>((resolve) => attacker.once("disconnect", resolve));
    attacker.emit("subscribe", { scope: big }, () => {});
    // The server drops the transport: a WebSocket sees it close; a long-polling
    // request in flight may see the close or the failed request first.
    const reason = await gone;
    const dropped =
      transports[0] === "websocket" ? ["transport close"] : ["transport close", "transport error"];
    expect([transports[0], dropped.includes(reason) ? "dropped" : reason]).toEqual([
      transports[0],
      "dropped",
    ]);
  }
  // An oversized CONNECT (a 20 KB token) never gets a session either.
  const oversized = client(big);
  const closed = await new Promise<string>((resolve) => {
    oversized.once("connect", () => resolve("connected"));
    oversized.once("connect_error", () => resolve("connect_error"));
    oversized.io.once("close", () => resolve("closed"));
  });
  expect(closed).not.toBe("connected");

  // The bystander kept its connection and its updates.
  expect(victim.socket.connected).toBe(true);
  const before = victim.updates();
  pace.tick(10);
  await pace.flush();
  await waitFor(() => victim.updates() > before, { what: "the bystander's next update" });
  await pace.finish();
});

test("1,000 subscribes per second from one socket are rate-limited; others keep low latency", async () => {
  const scope = "flood:calm";
  const calm = await bystander(scope);
  const flooder = client(await token(["flood:*"]));
  await connect(flooder);
  await redis.client().config("RESETSTAT");
  await lag(); // resets the gateway's lag histogram

  const acks: Promise<string>[] = [];
  const roundTrips: number[] = [];
  const started = performance.now();
  let n = 0;
  const sender = setInterval(() => {
    for (let i = 0; i < 10; i++) {
      const scopeN = `flood:s${n++}`;
      acks.push(
        subscribe(flooder, scopeN).then(
          (ack) => (ack.ok ? "ok" : ack.error.code),
          () => "no answer",
        ),
      );
    }
  }, 10);
  // The bystander keeps asking meanwhile (an unsubscribe of a scope it never joined:
  // answered by the gateway without Redis and without its own rate limit), and times it.
  while (performance.now() - started < 2000) {
    const t = performance.now();
    const ack = await calm.socket.timeout(10_000).emitWithAck("unsubscribe", { scope: "flood:x" });
    expect(ack).toEqual({ ok: true });
    roundTrips.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  clearInterval(sender);
  const floodMs = since(started);
  const results = await Promise.all(acks);
  // The gateway refills the bucket by its own clock while it works through the
  // flood, which may end after the sending did: the bound runs to the last ack.
  const seconds = since(started) / 1000;
  const loopLag = await lag();

  const count = (code: string) => results.filter((r) => r === code).length;
  // Burst 20, then 5 per second (the defaults), and some slack for timing.
  expect(count("ok")).toBeGreaterThanOrEqual(20);
  expect(count("ok")).toBeLessThanOrEqual(20 + Math.ceil(5 * seconds) + 5);
  expect(count("rate_limited")).toBe(results.length - count("ok"));
  const counts = await commandCounts(redis.client());
  expect(counts.subscribe ?? 0).toBeLessThanOrEqual(count("ok") + 1);
  expect(flooder.connected).toBe(true);
  // Sanity only (a shared 2-core machine): nobody waited seconds.
  expect(percentile(roundTrips, 0.99)).toBeLessThan(5000);
  expect(loopLag.max).toBeLessThan(5000);
  report("13 flood: 1,000 subscribes/s", {
    sent: results.length,
    floodMs,
    sentPerSecond: Math.round(results.length / (floodMs / 1000)),
    ok: count("ok"),
    rateLimited: count("rate_limited"),
    redisSubscribes: counts.subscribe ?? 0,
    bystanderRoundTrips: roundTrips.length,
    bystanderRttMs: {
      p50: Math.round(percentile(roundTrips, 0.5)),
      p99: Math.round(percentile(roundTrips, 0.99)),
      max: Math.round(Math.max(...roundTrips)),
    },
    gatewayEventLoopLagMs: loopLag,
  });
});

test("2,000 sockets connecting at once are all served", async () => {
  const scopes = Array.from({ length: 20 }, (_, i) => `crowd:${i}`);
  const shared = await token(["crowd:*"]);
  await lag();
  const started = performance.now();
  const crowd = Array.from({ length: 2000 }, () => client(shared, { timeout: 60_000 }));
  await Promise.all(crowd.map(connect));
  const connectedMs = since(started);
  const acks = await Promise.all(
    crowd.map((socket, i) => subscribe(socket, scopes[i % scopes.length] as string)),
  );
  const subscribedMs = since(started);
  expect(acks.filter((ack) => ack.ok)).toHaveLength(2000);
  const loopLag = await lag();

  const got = new Set<ClientSocket>();
  for (const socket of crowd) socket.once("progress", () => got.add(socket));
  const trackers = await Promise.all(
    scopes.map((scope) => RedisProgress.start({ redis: redis.url, scope, total: 1 })),
  );
  await Promise.all(trackers.map((pace) => pace.finish()));
  await waitFor(() => got.size === 2000, { timeout: 30_000, what: "an update on all 2,000" });
  const updatedMs = since(started);
  expect(gateway.problems()).toEqual([]);
  report("13 flood: 2,000 sockets at once", {
    connectedMs,
    subscribedMs,
    allUpdatedMs: updatedMs,
    gatewayEventLoopLagMs: loopLag,
  });
  for (const socket of crowd) socket.disconnect();
}, 90_000);
