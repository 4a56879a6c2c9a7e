/**
 * Failover of a Redis Cluster (3 masters, 1 replica each, cluster-node-timeout
 * 1000 ms) under two gateway processes while jobs run: a coordinated
 * `CLUSTER FAILOVER` on a replica, then a SIGKILLed master whose replica takes
 * over, then a master restarted in place (empty, no persistence). Every client on either gateway must end at the jobs' final stored
 * state; the recovery times are measured and printed.
 *
 * Recovery time = from the start of the failover (the command, or the kill)
 * until every client holds, for every job on the affected shard, a value that
 * was written after the replica became master.
 */
import type { Cluster } from "ioredis";
import { RedisProgress } from "../../shared";
import { scopeKeys } from "../../shared/keys";
import { signScopeToken } from "../../server";
import { keySlot } from "../../server/cluster-slot";
import { TEST_SECRET } from "../helpers/gateway";
import { GatewayProcess } from "../helpers/gateway-process";
import { killChildren } from "../helpers/json-process";
import { TestRedisCluster } from "../helpers/redis-cluster";
import { waitFor } from "../helpers/wait";
import { Watcher } from "../helpers/watcher";

jest.setTimeout(90_000);

/** A job that keeps writing (heartbeat 100 ms) until told to finish. */
interface Worker {
  scope: string;
  id: string;
  pace: RedisProgress;
  timer: NodeJS.Timeout;
}

let cluster: TestRedisCluster;
let gateways: GatewayProcess[] = [];
let watchers: Watcher[] = [];
let workers: Worker[] = [];
let client: Cluster;
/** scope → master port at the start. */
const owner = new Map<string, number>();
const scopes: string[] = [];

beforeAll(async () => {
  cluster = await TestRedisCluster.start({ nodeTimeout: 1000 });
  // Two scopes per master.
  const masters = await cluster.masters();
  for (let i = 0; scopes.length < 2 * masters.length; i++) {
    const scope = `job:${i}`;
    const slot = keySlot(scopeKeys("resque:pace", scope, true).hash);
    const master = masters.find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to));
    if (master === undefined) throw new Error(`no master owns ${scope}`);
    if ([...owner.values()].filter((port) => port === master.port).length < 2) {
      owner.set(scope, master.port);
      scopes.push(scope);
    }
  }
  gateways = await Promise.all(
    [0, 1].map(() =>
      GatewayProcess.start({
        REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(","),
      }),
    ),
  );
  const token = await signScopeToken({ secret: TEST_SECRET, scopes: ["job:*"], ttl: 600 });
  watchers = await Promise.all(
    gateways.map((gateway, g) => new Watcher(gateway.url, token, `gateway ${g}`).connect()),
  );
  for (const watcher of watchers) await watcher.watch(scopes);

  client = cluster.cluster();
  workers = await Promise.all(
    scopes.map(async (scope, i) => {
      const pace = await RedisProgress.start({
        redis: client,
        scope,
        id: `worker-${i}`,
        total: 100_000,
        interval: 50,
        heartbeat: 100,
        writeTimeout: 1000,
        timeout: 30_000,
      });
      pace.on("error", () => {
        // Writes fail while a shard has no master; the next write retries.
      });
      const timer = setInterval(() => pace.tick(7), 10);
      return { scope, id: `worker-${i}`, pace, timer };
    }),
  );
}, 90_000);

afterAll(async () => {
  for (const worker of workers) clearInterval(worker.timer);
  for (const watcher of watchers) watcher.close();
  await Promise.all(gateways.map((gateway) => gateway.stop()));
  killChildren();
  await cluster?.stop();
}, 30_000);

/** Waits until every client holds a value of every job in `affected` written at or after `since`. */
async function clientsCurrent(affected: readonly Worker[], since: number): Promise<number> {
  await waitFor(
    () =>
      watchers.every((watcher) =>
        affected.every((worker) => {
          const job = watcher.job(worker.scope, worker.id);
          return job !== undefined && Date.parse(job.updated_at) >= since;
        }),
      ),
    { timeout: 30_000, interval: 10, what: "every client to get post-failover writes" },
  );
  return Date.now();
}

/** Polls the replica until it reports itself master; returns when it did. */
async function promoted(replica: number): Promise<number> {
  const node = cluster.node(replica);
  await waitFor(async () => /role:master/.test(await node.info("replication")), {
    timeout: 30_000,
    interval: 10,
    what: `${replica} to become master`,
  });
  return Date.now();
}

function report(kind: string, start: number, promotedAt: number, currentAt: number): void {
  console.log(
    `cluster-failover: ${kind}: replica master after ${promotedAt - start} ms; ` +
      `every client current after ${currentAt - start} ms (${currentAt - promotedAt} ms after promotion)`,
  );
}

test("clients on both gateways receive the live jobs of every shard", async () => {
  const since = Date.now();
  await clientsCurrent(workers, since);
  for (const watcher of watchers) expect(watcher.snapshots.size).toBe(0);
});

test("CLUSTER FAILOVER on a replica mid-job: both gateways follow the shard to its new master", async () => {
  const master = owner.get(scopes[0] as string) as number;
  const affected = workers.filter((w) => owner.get(w.scope) === master);
  const replica = await cluster.replicaOf(master);
  const start = Date.now();
  await cluster.node(replica).call("CLUSTER", "FAILOVER");
  const promotedAt = await promoted(replica);
  const currentAt = await clientsCurrent(affected, promotedAt);
  report("CLUSTER FAILOVER", start, promotedAt, currentAt);
  // The gateways re-read the moved scopes and told their clients with a snapshot.
  for (const watcher of watchers) {
    for (const worker of affected) {
      expect(watcher.snapshots.get(worker.scope) ?? 0).toBeGreaterThan(0);
    }
  }
  await cluster.waitUntilStable();
  for (const worker of affected) owner.set(worker.scope, replica);
});

test("a killed master mid-job: its replica takes over and both gateways resubscribe there", async () => {
  const masters = new Set(owner.values());
  const first = owner.get(scopes[0] as string) as number;
  const master = [...masters].find((port) => port !== first) as number;
  const affected = workers.filter((w) => owner.get(w.scope) === master);
  const replica = await cluster.replicaOf(master);
  const start = Date.now();
  await cluster.kill(master);
  const promotedAt = await promoted(replica);
  const currentAt = await clientsCurrent(affected, promotedAt);
  report("killed master", start, promotedAt, currentAt);
  for (const worker of affected) owner.set(worker.scope, replica);
  // Both gateways stay healthy.
  for (const gateway of gateways) {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  }
});

test("a master restarted in place (back before its replica takes over, without its data)", async () => {
  const moved = new Set([owner.get(scopes[0] as string), owner.get(scopes[2] as string)]);
  const master = [...new Set(owner.values())].find((port) => !moved.has(port)) as number;
  const affected = workers.filter((w) => owner.get(w.scope) === master);
  // The replica must not take over while the master restarts: on a loaded
  // machine the restart can outlast cluster-node-timeout plus the election.
  const replica = cluster.node(await cluster.replicaOf(master));
  await replica.config("SET", "cluster-replica-no-failover", "yes");
  const start = Date.now();
  await cluster.restart(master);
  const back = Date.now();
  const slot = keySlot(scopeKeys("resque:pace", affected[0]?.scope as string, true).hash);
  // Other nodes may flag the restarted master as failing for a moment.
  await waitFor(async () => (await cluster.masterOfSlot(slot)) === master, {
    what: "the restarted master to own its slots again",
  });
  await replica.config("SET", "cluster-replica-no-failover", "no");
  // The node lost its jobs (no persistence): the trackers' next writes recreate them.
  const currentAt = await clientsCurrent(affected, back);
  console.log(
    `cluster-failover: master restarted in place: back after ${back - start} ms; ` +
      `every client current after ${currentAt - start} ms`,
  );
  await cluster.waitUntilStable();
});

test("every client ends at the final stored state of every job", async () => {
  for (const worker of workers) clearInterval(worker.timer);
  await Promise.all(workers.map((worker) => worker.pace.finish()));
  const stored = new Map<string, { seq: number; status: string }>();
  for (const worker of workers) {
    const jobs = await RedisProgress.jobs({ redis: client, scope: worker.scope });
    const job = jobs[worker.id];
    expect(job?.status).toBe("completed");
    stored.set(worker.scope, { seq: job?.seq ?? -1, status: job?.status ?? "" });
  }
  await waitFor(
    () =>
      watchers.every((watcher) =>
        workers.every((worker) => {
          const job = watcher.job(worker.scope, worker.id);
          const final = stored.get(worker.scope);
          return job?.status === "completed" && job.percent === 100 && job.seq === final?.seq;
        }),
      ),
    { timeout: 30_000, what: "every client to hold every job's final value" },
  );
});
