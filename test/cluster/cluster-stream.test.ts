/**
 * Redis Cluster (3 masters, 1 replica each, on loopback) with two gateway
 * processes: hash-tagged keys in one slot, SPUBLISH from the write script,
 * the tracker's URL-list and REDIS_CLUSTER_NODES forms, scopes spread over all
 * three masters, and clients on either gateway receiving the updates of
 * workers that write through any node.
 */
import type { Socket } from "node:net";
import type { Cluster, Redis } from "ioredis";
import { RedisProgress, requestCancel } from "../../shared";
import { scopeKeys, writersKey } from "../../shared/keys";
import { signScopeToken } from "../../server";
import { keySlot } from "../../server/cluster-slot";
import { ClusterSubscriber } from "../../server/cluster-subscriber";
import { readClusterRepliesDirectly } from "../../server/direct-replies";
import { TEST_SECRET } from "../helpers/gateway";
import { GatewayProcess } from "../helpers/gateway-process";
import { killChildren } from "../helpers/json-process";
import { TestRedisCluster } from "../helpers/redis-cluster";
import { waitFor } from "../helpers/wait";
import { Watcher } from "../helpers/watcher";

jest.setTimeout(60_000);

let cluster: TestRedisCluster;
let gateways: GatewayProcess[] = [];
const watchers: Watcher[] = [];

beforeAll(async () => {
  cluster = await TestRedisCluster.start();
  const [a, , , b] = cluster.ports;
  // Each gateway knows a single, different seed: the rest is discovered.
  gateways = await Promise.all(
    [a, b].map((port) =>
      GatewayProcess.start({ REDIS_CLUSTER_NODES: `127.0.0.1:${String(port)}` }),
    ),
  );
}, 90_000);

afterAll(async () => {
  for (const watcher of watchers) watcher.close();
  await Promise.all(gateways.map((gateway) => gateway.stop()));
  killChildren();
  await cluster?.stop();
}, 30_000);

/** The master port owning each scope's slot. */
async function owners(scopes: readonly string[]): Promise<Map<string, number>> {
  const masters = await cluster.masters();
  const result = new Map<string, number>();
  for (const scope of scopes) {
    const slot = keySlot(scopeKeys("resque:pace", scope, true).hash);
    const owner = masters.find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to));
    if (owner === undefined) throw new Error(`no master for ${scope}`);
    result.set(scope, owner.port);
  }
  return result;
}

test("a scope's keys share one slot on its master, and the write script SPUBLISHes there", async () => {
  const client = cluster.cluster();
  const scope = "user:3421";
  const keys = scopeKeys("resque:pace", scope, true);
  expect(keys.hash).toBe("resque:pace:{user:3421}");
  const slot = keySlot(keys.hash);
  const master = (await owners([scope])).get(scope) as number;

  // A sharded subscriber on the owning master sees what the script publishes.
  const sub = cluster.node(master);
  const messages: string[] = [];
  sub.on("smessage", (channel: string, message: string) => {
    if (channel === keys.channel) messages.push(message);
  });
  await sub.ssubscribe(keys.channel);

  const pace = await RedisProgress.start({ redis: client, scope, total: 4, id: "job-1" });
  await pace.finish();
  for (const key of [keys.hash, keys.expiry, writersKey(keys, "job-1")]) {
    expect(Number(await client.call("CLUSTER", "KEYSLOT", key))).toBe(slot);
    // Stored on the master itself (a plain connection: no redirection).
    expect(await cluster.node(master).exists(key)).toBe(1);
  }
  await waitFor(() => messages.length >= 2, { what: "two SPUBLISHed messages" });
  const last = JSON.parse(messages[messages.length - 1] as string) as {
    scope: string;
    jobs: Record<string, { status: string; percent: number }>;
  };
  expect(last.scope).toBe(scope);
  expect(last.jobs["job-1"]).toMatchObject({ status: "completed", percent: 100 });
});

test("the tracker takes cluster seeds as a URL array, a comma-separated string or REDIS_CLUSTER_NODES", async () => {
  const scope = "seeds:forms";
  const [first, second] = cluster.urls as [string, string];
  const viaArray = await RedisProgress.start({ redis: [first], scope, total: 1, id: "array" });
  await viaArray.finish();
  const viaString = await RedisProgress.start({
    redis: `${first},${second}`,
    scope,
    total: 1,
    id: "string",
  });
  await viaString.finish();
  const before = process.env.REDIS_CLUSTER_NODES;
  process.env.REDIS_CLUSTER_NODES = cluster.seeds.map((s) => `${s.host}:${s.port}`).join(",");
  try {
    const viaEnv = await RedisProgress.start({ scope, total: 1, id: "env" });
    await viaEnv.finish();
    const jobs = await RedisProgress.jobs({ scope });
    expect(Object.keys(jobs).sort()).toEqual(["array", "env", "string"]);
    expect(Object.values(jobs).every((job) => job.status === "completed")).toBe(true);
  } finally {
    if (before === undefined) delete process.env.REDIS_CLUSTER_NODES;
    else process.env.REDIS_CLUSTER_NODES = before;
  }
  // Stored under the hash tag, not the standalone name.
  const client = cluster.cluster();
  expect(await client.exists("resque:pace:{seeds:forms}")).toBe(1);
  expect(await client.exists("resque:pace:seeds:forms")).toBe(0);
});

test("child roll-up and cancel (tracker and gateway) run in one slot too", async () => {
  const client = cluster.cluster();
  const scope = "rollup:1";
  const parent = await RedisProgress.start({ redis: client, scope, total: 2, id: "parent" });
  const done = parent.child({ total: 4, id: "child-a" });
  const running = parent.child({ total: 4, id: "child-b" });
  await Promise.all([done.ready, running.ready]);
  done.tick(4);
  await done.finish();
  const jobs = await RedisProgress.jobs({ redis: client, scope });
  expect(jobs.parent?.percent).toBe(50);

  await requestCancel({ redis: client, scope, id: "child-b" });
  running.tick(1);
  await running.flush();
  expect(running.signal.aborted).toBe(true);
  await running.cancel();

  // A gateway's cancel endpoint runs the cancel script on the scope's master too.
  const token = await signScopeToken({
    secret: TEST_SECRET,
    scopes: [scope],
    cancel: [scope],
    ttl: 600,
  });
  const response = await fetch(
    `${(gateways[1] as GatewayProcess).url}/api/jobs/cancel?scope=${scope}&id=parent`,
    { method: "POST", headers: { authorization: `Bearer ${token}` } },
  );
  expect(response.status).toBe(200);
  await parent.flush();
  expect(parent.signal.aborted).toBe(true);
  await parent.cancel();
  expect((await RedisProgress.jobs({ redis: client, scope })).parent?.status).toBe("canceled");
});

test("48 scopes spread over the three masters; clients on either gateway get every worker's updates", async () => {
  const scopes = Array.from({ length: 48 }, (_, i) => `tenant:${i}`);
  const owner = await owners(scopes);
  const masters = (await cluster.masters()).map((m) => m.port);
  const distribution = Object.fromEntries(
    masters.map((port) => [port, scopes.filter((s) => owner.get(s) === port).length]),
  );
  console.log(`cluster-stream: scopes per master (port: scopes) ${JSON.stringify(distribution)}`);
  for (const port of masters) expect(distribution[port]).toBeGreaterThan(0);

  // Three sockets per gateway, 16 scopes each (within the default subscribe burst).
  const token = await signScopeToken({ secret: TEST_SECRET, scopes: ["tenant:*"], ttl: 600 });
  const mine: { watcher: Watcher; indexes: number[] }[] = [];
  for (const [g, gateway] of gateways.entries()) {
    for (let part = 0; part < 3; part++) {
      const watcher = await new Watcher(gateway.url, token, `g${g}.${part}`).connect();
      watchers.push(watcher);
      const indexes = Array.from({ length: 16 }, (_, k) => part * 16 + k);
      await watcher.watch(indexes.map((i) => scopes[i] as string));
      mine.push({ watcher, indexes });
    }
  }

  // Each gateway holds one sharded subscription per scope, on the scope's master.
  for (const port of masters) {
    const node = cluster.node(port);
    const channels = (
      (await node.call("PUBSUB", "SHARDCHANNELS", "resque:pace:{tenant:*")) as string[]
    ).sort();
    const expected = scopes
      .filter((s) => owner.get(s) === port)
      .map((s) => scopeKeys("resque:pace", s, true).channel)
      .sort();
    expect(channels).toEqual(expected);
    const counts = (await node.call("PUBSUB", "SHARDNUMSUB", ...expected)) as (string | number)[];
    for (let i = 1; i < counts.length; i += 2) expect(Number(counts[i])).toBe(2);
  }

  // Workers write through Cluster clients that each know a single, different node.
  const clients: Cluster[] = cluster.ports
    .slice(0, 3)
    .map((port) => cluster.cluster({}, [{ host: "127.0.0.1", port }]));
  const total = 20;
  await Promise.all(
    scopes.map(async (scope, i) => {
      const pace = await RedisProgress.start({
        redis: clients[i % clients.length] as Cluster,
        scope,
        total,
        id: `job-${i}`,
        interval: 10,
      });
      for (let n = 0; n < total; n++) {
        pace.tick();
        if (n % 5 === 4) await pace.flush();
      }
      await pace.finish();
    }),
  );

  await waitFor(
    () =>
      mine.every(({ watcher, indexes }) =>
        indexes.every((i) => {
          const job = watcher.job(`tenant:${i}`, `job-${i}`);
          return job?.status === "completed" && job.count === total && job.percent === 100;
        }),
      ),
    { timeout: 20_000, what: "every client to see every job completed" },
  );
  // It came as live updates, not resync snapshots.
  for (const { watcher } of mine) {
    expect(watcher.progressEvents).toBeGreaterThan(0);
    expect(watcher.snapshots.size).toBe(0);
  }

  // The last watcher leaving a scope unsubscribes it on its shard.
  for (const { watcher } of mine) watcher.close();
  await waitFor(
    async () => {
      for (const port of masters) {
        const channels = (await cluster
          .node(port)
          .call("PUBSUB", "SHARDCHANNELS", "resque:pace:{tenant:*")) as string[];
        if (channels.length > 0) return false;
      }
      return true;
    },
    { what: "the gateways to SUNSUBSCRIBE every scope" },
  );
});

test("a gateway's own Cluster connection parses every node's replies as they are read", async () => {
  // What createGateway does with a Cluster it opened (see server/direct-replies.ts).
  const client = cluster.cluster({ lazyConnect: true });
  readClusterRepliesDirectly(client);
  const stacks: string[] = [];
  const record = (node: Redis) => {
    node.on("connect", () => {
      // prependListener does not arm the socket itself (that is the point of the fix).
      (node.stream as Socket).prependListener("data", () => stacks.push(new Error().stack ?? ""));
    });
  };
  client.on("+node", record);
  await client.connect();
  // A key on each master: every node connection answers at least once.
  const scopes = Array.from({ length: 100 }, (_, i) => `direct:${i}`);
  const owner = await owners(scopes);
  const masters = new Set(owner.values());
  for (const port of masters) {
    const scope = scopes.find((candidate) => owner.get(candidate) === port) as string;
    await client.exists(scopeKeys("resque:pace", scope, true).hash);
  }
  expect(stacks.length).toBeGreaterThanOrEqual(masters.size);
  for (const stack of stacks) {
    expect(stack).toContain("onStreamRead");
    expect(stack).not.toContain("emitReadable_");
  }
});

test("the gateway's shard links parse each message as it is read", async () => {
  const client = cluster.cluster();
  const shards = new ClusterSubscriber(client, 5000);
  const limit = Error.stackTraceLimit;
  // The frames that tell the two ways apart lie ~20 below the listener.
  Error.stackTraceLimit = 100;
  try {
    const channel = scopeKeys("resque:pace", "direct:link", true).hash;
    await shards.subscribe([channel]);
    const received = new Promise<string>((resolve) => {
      const off = shards.on("message", () => {
        off();
        resolve(new Error("here").stack ?? "");
      });
    });
    await client.call("SPUBLISH", channel, "x");
    const stack = await received;
    expect(stack).toContain("onStreamRead");
    expect(stack).not.toContain("emitReadable_");
  } finally {
    Error.stackTraceLimit = limit;
    await shards.close();
    client.disconnect();
  }
});
