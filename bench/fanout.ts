/**
 * Fan-out capacity (issue item 4): the update rate is raised step by step
 * until the clients' p99 latency passes 100 ms or the server's event-loop lag
 * (p99) passes 50 ms; the deliveries per second of the last step that held
 * are the capacity. The same ramp runs against a bare socket.io server (no
 * Redis, no auth, rooms only, emitting by itself) with the same clients: the
 * ceiling of this machine.
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
  const rows: Cell[][] = [];
  const results: RampResult[] = [];
  try {
    for (const kind of ["gateway", "bare"] as const) {
      const name = kind === "gateway" ? "redis-progress gateway" : "bare socket.io (ceiling)";
      const server = await ServerProc.start(kind, { redisUrl: redis.url });
      const writers =
        kind === "gateway"
          ? await TrackerWriters.create(writerClient, { scopes, jobsPerScope: 1 })
          : undefined;
      const source: Source = writers ? { writers } : { bare: server, scopes };
      const ramp: RampResult = { name, capacity: null, limited: false, why: "every step held" };
      try {
        await openAll(loadgen, {
          url: server.url,
          count: clients,
          scopes,
          secret: kind === "gateway" ? BENCH_SECRET : undefined,
          concurrency: 100,
        });
        for (const asked of steps) {
          // The machine is shared: a step that fails is tried once more before the ramp ends.
          let failures: string[] = [];
          let delivered = 0;
          for (let attempt = 1; attempt <= 2; attempt++) {
            const phase = await runPhase({
              source,
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
            rows.push([
              name,
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
            break;
          }
          ramp.capacity = Math.round(delivered);
        }
      } finally {
        await loadgen.close();
        await writers?.close();
        await server.stop();
      }
      results.push(ramp);
    }
  } finally {
    writerClient.disconnect();
    await loadgen.stop();
  }
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
      rows,
      notes: [
        `${clients.toLocaleString("en-US")} clients over ${scopeCount} scopes ` +
          `(${perScope} per scope), ${stepSeconds} s per step. The gateway's updates are tracker ` +
          "writes from the bench process through Redis; the bare server emits by itself, so it " +
          "has the cores with one process fewer. The gateway sends a scope at most one event per " +
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
