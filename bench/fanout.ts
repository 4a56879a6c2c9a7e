/**
 * Fan-out capacity (issue item 4): the update rate is raised step by step
 * until the clients' p99 latency passes 100 ms or the server's event-loop lag
 * (p99) passes 50 ms; the deliveries per second of the last step that held
 * are the capacity. The same ramp runs against a bare socket.io server (no
 * Redis, no auth, rooms only, emitting by itself) with as many clients: the
 * ceiling of this machine. Both servers keep their clients connected and the
 * two ramps take turns step by step.
 */
import { Redis } from "ioredis";
import type { TestRedis } from "../test/helpers/redis-server";
import { runPhase, type Source } from "./lib/phase";
import type { Cell, Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { BENCH_SECRET, LoadGen, ServerProc, openAll } from "./lib/servers";
import { TrackerWriters } from "./lib/writers";

const MAX_P99_MS = 100;
const MAX_LAG_MS = 50;
/** A step that delivers less than this share of what it asked for has fallen behind. */
const MIN_DELIVERED = 0.9;

interface RampResult {
  name: string;
  /** Deliveries/s of the last step that held, or null when the first step failed. */
  capacity: number | null;
  /** Whether the ramp ended on a failure (false: every step held, capacity is a lower bound). */
  limited: boolean;
  why: string;
}

export async function benchFanout(options: { redis: TestRedis; scale: Scale }): Promise<Table[]> {
  const { redis, scale } = options;
  const { clients, scopes: scopeCount, steps, stepSeconds } = scale.fanout;
  const scopes = Array.from({ length: scopeCount }, (_, k) => `fan:${k}`);
  const perScope = clients / scopeCount;
  const loadgen = await LoadGen.start();
  const writerClient = new Redis(redis.url);
  const kinds = ["gateway", "bare"] as const;
  const rows: Record<(typeof kinds)[number], Cell[][]> = { gateway: [], bare: [] };
  const servers: Partial<Record<(typeof kinds)[number], ServerProc>> = {};
  let writers: TrackerWriters | undefined;
  const ramps: Record<(typeof kinds)[number], RampResult> = {
    gateway: {
      name: "redis-progress gateway",
      capacity: null,
      limited: false,
      why: "every step held",
    },
    bare: {
      name: "bare socket.io (ceiling)",
      capacity: null,
      limited: false,
      why: "every step held",
    },
  };
  try {
    servers.gateway = await ServerProc.start("gateway", { redisUrl: redis.url });
    servers.bare = await ServerProc.start("bare", { redisUrl: redis.url });
    writers = await TrackerWriters.create(writerClient, { scopes, jobsPerScope: 1 });
    const sources: Record<(typeof kinds)[number], Source> = {
      gateway: { writers },
      bare: { bare: servers.bare, scopes },
    };
    // Both servers keep their clients connected and the ramps take turns step
    // by step (ABBA), so that a busy moment on the machine weighs on both alike.
    for (const kind of kinds) {
      await openAll(loadgen, {
        url: (servers[kind] as ServerProc).url,
        count: clients,
        scopes,
        secret: kind === "gateway" ? BENCH_SECRET : undefined,
        concurrency: 100,
      });
    }
    for (const [index, asked] of steps.entries()) {
      const order = index % 2 === 0 ? kinds : ([...kinds].reverse() as (typeof kinds)[number][]);
      for (const kind of order) {
        const ramp = ramps[kind];
        if (ramp.limited) continue;
        const server = servers[kind] as ServerProc;
        // The machine is shared: a step that fails is tried once more before the ramp ends.
        let failures: string[] = [];
        let delivered = 0;
        for (let attempt = 1; attempt <= 2; attempt++) {
          const phase = await runPhase({
            source: sources[kind],
            server,
            loadgen,
            rate: Math.max(1, Math.floor(asked / perScope)),
            seconds: stepSeconds,
            warmup: Math.min(0.5, stepSeconds / 2),
          });
          const { latency } = phase.client;
          delivered = phase.deliveriesPerSecond;
          failures = [
            latency.p99 > MAX_P99_MS ? `p99 ${latency.p99.toFixed(0)} ms > ${MAX_P99_MS}` : "",
            phase.server.lagP99 > MAX_LAG_MS
              ? `server lag ${phase.server.lagP99.toFixed(0)} ms > ${MAX_LAG_MS}`
              : "",
            delivered < asked * MIN_DELIVERED
              ? `delivered ${Math.round((delivered / asked) * 100)}% of asked`
              : "",
          ].filter(Boolean);
          rows[kind].push([
            ramp.name,
            asked,
            Math.round(phase.rate),
            Math.round(delivered),
            latency.p50,
            latency.p99,
            phase.server.lagP99,
            Math.round(phase.server.cpu),
            Math.round(phase.client.meter.cpu),
            phase.client.meter.lagP99,
            failures.length === 0
              ? "held"
              : `${failures.join("; ")}${attempt === 1 ? " (retrying)" : ""}`,
          ]);
          if (failures.length === 0) break;
        }
        if (failures.length > 0) {
          ramp.limited = true;
          ramp.why = failures.join("; ");
        } else {
          ramp.capacity = Math.round(delivered);
        }
      }
      if (ramps.gateway.limited && ramps.bare.limited) break;
    }
  } finally {
    await loadgen.close();
    await writers?.close();
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    writerClient.disconnect();
    await loadgen.stop();
  }
  const results: RampResult[] = [ramps.gateway, ramps.bare];
  const bare = results.find((r) => r.name.startsWith("bare"))?.capacity ?? null;
  return [
    {
      title: "Fan-out ramp (deliveries = progress events received by clients)",
      columns: [
        "server",
        "deliveries/s asked",
        "updates/s",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "server lag p99 ms",
        "server CPU %",
        "load generator CPU %",
        "load generator lag p99 ms",
        "step",
      ],
      rows: [...rows.gateway, ...rows.bare],
      notes: [
        `${clients.toLocaleString("en-US")} clients over ${scopeCount} scopes ` +
          `(${perScope} per scope), ${stepSeconds} s per step. The gateway's updates are tracker ` +
          "writes from the bench process through Redis; the bare server emits by itself, so it " +
          "has the cores with one process fewer. Both servers' clients stay connected (the load " +
          "generator holds both sets) and the two ramps take turns step by step, in ABBA order, " +
          "so that a busy moment on the machine weighs on both alike; a ramp that ended stops " +
          "while the other goes on. The gateway sends a scope at most one event per " +
          `50 ms coalescing window, so it cannot deliver more than 20 × ${clients.toLocaleString("en-US")} ` +
          "events per second here; the steps stay below that.",
      ],
    },
    {
      title: "Fan-out capacity",
      columns: ["server", "deliveries/s at the limit", "% of bare", "ramp ended by"],
      rows: results.map((r) => [
        r.name,
        r.capacity === null
          ? null
          : r.limited
            ? r.capacity
            : `≥ ${r.capacity.toLocaleString("en-US")}`,
        r.capacity !== null && bare !== null ? `${Math.round((r.capacity / bare) * 100)}%` : null,
        r.why,
      ]),
      notes: [
        `Limit: p99 > ${MAX_P99_MS} ms, server event-loop lag p99 > ${MAX_LAG_MS} ms, or less ` +
          `than ${MIN_DELIVERED * 100}% of the asked deliveries arriving; the figure is the last ` +
          "step that held; a failed step is run a second time before the ramp ends (the cores are " +
          "shared with other work). Target: ≥ 80% of the bare server.",
      ],
    },
  ];
}
