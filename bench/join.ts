/**
 * Joining and rejoining (issue item 6).
 *
 * - Join → first snapshot: new clients arrive at a steady rate, each connecting
 *   and subscribing to a scope nobody watches yet (the gateway SUBSCRIBEs, then
 *   reads the snapshot through the read script); timed from subscribe to the
 *   ack that carries the snapshot, and from the start of the connection.
 * - Gateway restart: clients made with the browser SDK watch their scopes; the
 *   gateway process is killed (SIGKILL), every job gets a new write while it is
 *   down, and a new gateway starts on the same port. Timed until every client
 *   holds the new state (it reconnects with socket.io's backoff, resubscribes,
 *   and takes the snapshot).
 */
import { Redis } from "ioredis";
import { RedisProgress } from "../shared/tracker/redis-progress";
import { freePort } from "../test/helpers/gateway";
import type { TestRedis } from "../test/helpers/redis-server";
import type { Cell, Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { BENCH_SECRET, LoadGen, ServerProc } from "./lib/servers";
import { nowUs, Samples } from "./lib/stats";
import { TrackerWriters } from "./lib/writers";

/** Stores `jobsPerScope` finished jobs in each scope. */
async function populate(client: Redis, scopes: string[], jobsPerScope: number): Promise<void> {
  const batch = 200;
  for (let i = 0; i < scopes.length; i += batch) {
    await Promise.all(
      scopes.slice(i, i + batch).flatMap((scope) =>
        Array.from({ length: jobsPerScope }, async () => {
          const pace = await RedisProgress.start({ redis: client, scope, total: 10 });
          pace.tick(10);
          await pace.finish();
        }),
      ),
    );
  }
}

async function joinLatency(redis: TestRedis, scale: Scale, loadgen: LoadGen): Promise<Cell[][]> {
  const { count, rate, jobsPerScope } = scale.join;
  const scopes = Array.from({ length: count }, (_, k) => `join:${k}`);
  const client = new Redis(redis.url);
  const server = await ServerProc.start("gateway", { redisUrl: redis.url });
  try {
    await populate(client, scopes, jobsPerScope);
    await server.meter(true);
    const result = await loadgen.join({
      url: server.url,
      secret: BENCH_SECRET,
      scopes,
      rate,
      count,
      jobsPerScope,
    });
    const meter = await server.meter();
    const note = `${result.joined} joined, ${result.failed} failed, ${result.wrongSnapshots} wrong snapshots; server CPU ${Math.round(meter.cpu)}%`;
    return [
      [
        `subscribe → snapshot, ${rate} joins/s (new scope each)`,
        result.subscribeToSnapshot.p50,
        result.subscribeToSnapshot.p99,
        result.subscribeToSnapshot.max,
        note,
      ],
      [
        `connect (handshake + token) → snapshot, ${rate} joins/s`,
        result.connectToSnapshot.p50,
        result.connectToSnapshot.p99,
        result.connectToSnapshot.max,
        note,
      ],
    ];
  } finally {
    await server.stop();
    client.disconnect();
  }
}

async function restart(redis: TestRedis, scale: Scale, loadgen: LoadGen): Promise<Cell[][]> {
  const { clients, scopes: scopeCount } = scale.restart;
  const scopes = Array.from({ length: scopeCount }, (_, k) => `restart:${k}`);
  const port = await freePort();
  const client = new Redis(redis.url);
  const writers = await TrackerWriters.create(client, { scopes, jobsPerScope: 2 });
  let server = await ServerProc.start("gateway", { redisUrl: redis.url, port });
  try {
    const opened = await loadgen.sdkOpen({
      url: server.url,
      count: clients,
      scopes,
      secret: BENCH_SECRET,
    });
    if (opened.failed > 0) throw new Error(`${opened.failed} SDK clients did not load`);

    const killedAt = nowUs();
    await server.kill();
    // Every job moves on while the gateway is down: clients must take the new snapshot.
    for (let i = 0; i < writers.trackers.length; i++) writers.write(i);
    await writers.settle();
    const expecting = loadgen.expect({ expected: writers.expected(), timeout: 60_000 });
    server = await ServerProc.start("gateway", { redisUrl: redis.url, port });
    const readyAt = nowUs();
    const { times, missing } = await expecting;

    const sinceReady = new Samples();
    for (const t of times) sinceReady.push(Math.max(0, t - readyAt));
    const s = sinceReady.summary();
    const last = times.length > 0 ? (times[times.length - 1] as number) : readyAt;
    return [
      [
        `${clients} SDK clients back in sync after a gateway restart (from the new gateway listening)`,
        s.p50,
        s.p99,
        (last - readyAt) / 1000,
        `${times.length} in sync, ${missing} not; kill → listening ${((readyAt - killedAt) / 1000).toFixed(0)} ms (process start incl. tsx); all in sync ${((last - killedAt) / 1000).toFixed(0)} ms after the kill`,
      ],
    ];
  } finally {
    await loadgen.sdkClose();
    await server.stop();
    await writers.close();
    client.disconnect();
  }
}

export async function benchJoin(options: { redis: TestRedis; scale: Scale }): Promise<Table[]> {
  const { redis, scale } = options;
  const loadgen = await LoadGen.start();
  try {
    const rows = [
      ...(await joinLatency(redis, scale, loadgen)),
      ...(await restart(redis, scale, loadgen)),
    ];
    return [
      {
        title: "Join → first snapshot, and rejoin after a gateway restart (ms)",
        columns: ["measure", "p50", "p99", "max (= all)", "notes"],
        rows,
        notes: [
          `${scale.join.count} joins, each scope holding ${scale.join.jobsPerScope} jobs. The ` +
            "restart row is dominated by socket.io-client's reconnection backoff (default: first " +
            "retry after 0.5–1.5 s, doubling up to 5 s, randomised), which the SDK keeps; the " +
            "p50/p99 are per client, from the moment the new gateway listens.",
        ],
      },
    ];
  } finally {
    await loadgen.stop();
  }
}
