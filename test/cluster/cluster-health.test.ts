/**
 * The health check on a Redis Cluster's shard links: a master that stops
 * answering without closing its sockets (SIGSTOP; the cluster has no replica,
 * so nothing fails over) is found by the gateway's PING on the pub/sub link to
 * it; the link is dropped, its scopes are subscribed again once the master
 * answers, re-read and sent as a snapshot, and updates flow again.
 */
import type { Cluster } from "ioredis";
import pino from "pino";
import { io, type Socket } from "socket.io-client";
import { RedisProgress } from "../../shared";
import { scopeKeys } from "../../shared/keys";
import { createGateway, signScopeToken, type Gateway } from "../../server";
import { keySlot } from "../../server/cluster-slot";
import { TEST_SECRET } from "../helpers/gateway";
import { TestRedisCluster } from "../helpers/redis-cluster";
import { waitFor } from "../helpers/wait";

jest.setTimeout(60_000);

let cluster: TestRedisCluster;
let gateway: Gateway;
let socket: Socket | undefined;
const logs: { msg: string; connection?: string }[] = [];

beforeAll(async () => {
  cluster = await TestRedisCluster.start({ masters: 3, replicas: 0, nodeTimeout: 30_000 });
  await cluster.waitUntilStable();
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
  );
  gateway = createGateway({
    secret: TEST_SECRET,
    redis: cluster.cluster(),
    logger,
    healthCheckInterval: 200,
    redisTimeout: 500,
  });
  await gateway.listen(0, "127.0.0.1");
}, 90_000);

afterAll(async () => {
  socket?.disconnect();
  await gateway?.close();
  await cluster?.stop();
});

test("a frozen master's pub/sub link is found dead by PING, dropped, and its scope resubscribed and re-read once it answers", async () => {
  const scope = "health:1";
  const slot = keySlot(scopeKeys("resque:pace", scope, true).hash);
  const master = await cluster.masterOfSlot(slot);
  const writer: Cluster = cluster.cluster();
  const pace = await RedisProgress.start({ redis: writer, scope, total: 100 });

  const token = await signScopeToken({ secret: TEST_SECRET, scopes: [scope], ttl: 600 });
  const port = (gateway.server.address() as { port: number }).port;
  socket = io(`http://127.0.0.1:${port}`, {
    auth: { token },
    transports: ["websocket"],
    reconnection: false,
  });
  const progress: number[] = [];
  const snapshots: number[] = [];
  socket.on("progress", (m: { jobs: Record<string, { count: number } | null> }) => {
    const job = m.jobs[pace.id];
    if (job) progress.push(job.count);
  });
  socket.on("snapshot", (m: { jobs: Record<string, { count: number }> }) => {
    const job = m.jobs[pace.id];
    if (job) snapshots.push(job.count);
  });
  const ack = (await socket.timeout(5000).emitWithAck("subscribe", { scope })) as { ok: boolean };
  expect(ack.ok).toBe(true);
  pace.tick(10);
  await pace.flush();
  await waitFor(() => progress.includes(10), { what: "the first update" });

  cluster.freeze(master);
  try {
    await waitFor(
      () =>
        logs.some(
          (l) =>
            l.connection === `pubsub 127.0.0.1:${master}` &&
            l.msg.includes("did not answer a health-check PING"),
        ),
      { timeout: 10_000, what: "the health check to find the frozen master's link dead" },
    );
  } finally {
    cluster.thaw(master);
  }
  // Resubscribed and re-read: a snapshot with the stored state, then live updates again.
  await waitFor(() => snapshots.includes(10), {
    timeout: 15_000,
    what: "the scope's snapshot after the resubscribe",
  });
  pace.tick(5);
  await pace.flush();
  await waitFor(() => progress.includes(15), { timeout: 10_000, what: "an update after the thaw" });
  await pace.finish();
  writer.disconnect();
});

test("an SSUBSCRIBE that timed out on a slow master is taken back: no shard channel stays subscribed", async () => {
  // A gateway of its own without health checks: the link to the slow master
  // must live on (a PING would otherwise close it, and the SSUBSCRIBE with it).
  const slowGateway = createGateway({
    secret: TEST_SECRET,
    redis: cluster.cluster(),
    logger: pino({ level: "silent" }),
    healthCheckInterval: 0,
    redisTimeout: 500,
  });
  const { url } = await slowGateway.listen(0, "127.0.0.1");
  const scope = "slow:1";
  const channel = scopeKeys("resque:pace", scope, true).hash;
  const masterPort = await cluster.masterOfSlot(keySlot(channel));
  const master = cluster.node(masterPort);
  const token = await signScopeToken({ secret: TEST_SECRET, scopes: [scope], ttl: 600 });
  const client = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    // SSUBSCRIBEs the master has run: a count that only grows (CLIENT LIST's
    // `cmd=` of the link shows it only until the link's next command).
    const ssubscribes = async () =>
      Number(/cmdstat_ssubscribe:calls=(\d+)/.exec(await master.info("commandstats"))?.[1] ?? 0);
    const before = await ssubscribes();
    // The master does not answer until the refusal is in (SIGSTOP: its sockets
    // stay open): the new link's ready check and the SSUBSCRIBE queued behind
    // it wait past redisTimeout.
    cluster.freeze(masterPort);
    let ack: { ok: boolean; error?: { code: string } };
    try {
      ack = (await client.timeout(5000).emitWithAck("subscribe", { scope })) as typeof ack;
    } finally {
      cluster.thaw(masterPort);
    }
    expect(ack).toMatchObject({ ok: false, error: { code: "unavailable" } });
    // Once the master answers, the link becomes ready and sends its queue: the
    // late SSUBSCRIBE, and the SUNSUBSCRIBE that takes it back.
    await waitFor(async () => (await ssubscribes()) > before, {
      timeout: 10_000,
      what: "the link's queued SSUBSCRIBE to run",
    });
    // Taken back by the SUNSUBSCRIBE queued behind it or, at the latest, by the
    // link when a message arrives on a channel it does not track.
    await waitFor(
      async () => {
        if (((await master.call("PUBSUB", "SHARDCHANNELS")) as string[]).length === 0) return true;
        await master.call("SPUBLISH", channel, "{}");
        return false;
      },
      { timeout: 10_000, what: "no shard channel left on the master" },
    );
    // And the scope can be watched normally afterwards.
    const again = (await client.timeout(5000).emitWithAck("subscribe", { scope })) as {
      ok: boolean;
    };
    expect(again.ok).toBe(true);
  } finally {
    client.disconnect();
    master.disconnect();
    await slowGateway.close();
  }
});
