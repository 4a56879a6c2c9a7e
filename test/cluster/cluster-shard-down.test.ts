/**
 * A Redis Cluster master down until its replica takes over (3 masters with a
 * replica each, cluster-node-timeout 3 s), under an in-process gateway:
 * - the scopes of the other shards stay live: a healthy shard whose pub/sub
 *   link dropped at the same time is resubscribed at once, not held until the
 *   dead master's failover (one subscribe call covered both shards, and it
 *   failed as a whole);
 * - the dead master's scopes are retried at the gateway's retry pace, not in
 *   a loop as fast as the dead node refuses connections;
 * - after the failover, the dead master's scopes are live again.
 */
import type { Cluster } from "ioredis";
import pino from "pino";
import { io } from "socket.io-client";
import { RedisProgress } from "../../shared";
import type { JobMap } from "../../shared/job";
import { scopeKeys } from "../../shared/keys";
import { createGateway, signScopeToken, type Gateway } from "../../server";
import { keySlot } from "../../server/cluster-slot";
import { TEST_SECRET, type ClientSocket } from "../helpers/gateway";
import { TestRedisCluster } from "../helpers/redis-cluster";
import { waitFor } from "../helpers/wait";

jest.setTimeout(90_000);

let cluster: TestRedisCluster;
let client: Cluster;
let gateway: Gateway;
let socket: ClientSocket | undefined;

beforeAll(async () => {
  cluster = await TestRedisCluster.start({ nodeTimeout: 3000 });
  client = cluster.cluster();
  gateway = createGateway({
    secret: TEST_SECRET,
    redis: client,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
  });
}, 90_000);

afterAll(async () => {
  socket?.disconnect();
  await gateway?.close();
  await cluster?.stop();
});

/** A scope whose hash lives on the master at `port`. */
async function scopeOn(port: number, tag: string): Promise<string> {
  for (let i = 0; ; i++) {
    const scope = `${tag}:${i}`;
    if ((await cluster.masterOfSlot(keySlot(scopeKeys("resque:pace", scope, true).hash))) === port)
      return scope;
  }
}

async function redisErrors(): Promise<number> {
  const metric = await gateway.metrics.redisErrors.get();
  return metric.values.reduce((sum, value) => sum + value.value, 0);
}

test("a master down until its failover: the other shards' scopes stay live, its own are retried at the retry pace", async () => {
  const { url } = await gateway.listen(0, "127.0.0.1");
  const [deadPort, livePort] = (await cluster.masters()).map((node) => node.port) as [
    number,
    number,
  ];
  const deadScope = await scopeOn(deadPort, "dead");
  const liveScope = await scopeOn(livePort, "live");
  const dead = await RedisProgress.start({ redis: client, scope: deadScope, total: 100 });
  const live = await RedisProgress.start({ redis: client, scope: liveScope, total: 100 });

  const token = await signScopeToken({
    secret: TEST_SECRET,
    scopes: ["dead:*", "live:*"],
    ttl: 600,
  });
  socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
  const counts = new Map<string, number>();
  const hold = (scope: string, jobs: JobMap | Record<string, unknown>) => {
    for (const value of Object.values(jobs)) {
      const count = (value as { count?: number } | null)?.count;
      if (typeof count === "number") counts.set(scope, Math.max(counts.get(scope) ?? 0, count));
    }
  };
  socket.on("progress", ({ scope, jobs }) => hold(scope, jobs));
  socket.on("snapshot", ({ scope, jobs }) => hold(scope, jobs));
  for (const scope of [deadScope, liveScope]) {
    const ack = await socket.timeout(10_000).emitWithAck("subscribe", { scope });
    expect(ack).toMatchObject({ ok: true });
  }

  const replica = await cluster.replicaOf(deadPort);
  const errorsBefore = await redisErrors();
  const killedAt = Date.now();
  await cluster.kill(deadPort);
  // The healthy shard's pub/sub link drops at the same time.
  await cluster.node(livePort).call("CLIENT", "KILL", "TYPE", "pubsub");
  live.tick(7);
  await live.flush();
  await waitFor(() => counts.get(liveScope) === 7, {
    timeout: 20_000,
    interval: 10,
    what: "the live shard's update",
  });
  const liveAfter = Date.now() - killedAt;
  await waitFor(async () => /role:master/.test(await cluster.node(replica).info("replication")), {
    timeout: 30_000,
    interval: 20,
    what: "the failover",
  });
  const failoverAfter = Date.now() - killedAt;
  const errorsDuring = (await redisErrors()) - errorsBefore;
  console.log(
    `shard down: live shard current after ${liveAfter} ms, failover after ${failoverAfter} ms, ` +
      `${errorsDuring} Redis errors counted meanwhile`,
  );
  // The dead master cannot be replaced before cluster-node-timeout (3 s).
  expect(liveAfter).toBeLessThan(3000);
  expect(failoverAfter).toBeGreaterThan(3000);
  // A retry a second (retryDelay), each counting its refused connection and
  // its failed subscribe, plus the drop itself. Before the fix: thousands.
  expect(errorsDuring).toBeLessThan(5 + 4 * Math.ceil(failoverAfter / 1000));

  // After the failover the dead master's scope is live again.
  await waitFor(
    async () => {
      dead.tick(1);
      await dead.flush().catch(() => {});
      return (counts.get(deadScope) ?? 0) >= 1;
    },
    { timeout: 30_000, interval: 200, what: "the failed-over shard's update" },
  );
  await Promise.all([dead.finish().catch(() => {}), live.finish()]);
});
