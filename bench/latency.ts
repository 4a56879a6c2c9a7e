/**
 * End-to-end latency (issue item 3): from the moment a worker sends an update
 * to the moment a socket.io client receives it. The writer (this process)
 * stamps the update with the machine's monotonic clock; the clients live in
 * the load generator process, the server in a process of its own.
 *
 * Scenarios, each run for our gateway and for the BullMQ way
 * (updateProgress → QueueEvents → socket.io emit to a room) with the same load;
 * the BullMQ way twice: with the progress data a minimal app sends (scope,
 * percent, stamp: about 90 bytes per event) and with the job record ours sends
 * (percent, count, rate, ETA, dates: about 440 bytes), which its clients take
 * longer to parse. All paths' clients stay connected and the paths take turns
 * in short rounds (ABBA), so that a busy moment on the machine weighs on all
 * alike:
 * - spread: N clients, N / clientsPerScope scopes, updates round-robin over the
 *   scopes at a steady rate, so that the gateway's coalescing window (50 ms)
 *   rarely holds one back;
 * - hot: every client in one scope with several jobs updated at a rate above
 *   one per window, so the gateway coalesces (values held back wait up to
 *   50 ms, superseded ones are never sent).
 */
import { Redis } from "ioredis";
import type { TestRedis } from "../test/helpers/redis-server";
import { runPhase, type PhaseResult } from "./lib/phase";
import { median, type Cell, type Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { Samples } from "./lib/stats";
import { BENCH_SECRET, LoadGen, ServerProc, openAll, type ServerKind } from "./lib/servers";
import { FirstWrite } from "./lib/first-write";
import { BullWriters, TimedWriters, TrackerWriters, type Writers } from "./lib/writers";

interface Scenario {
  label: string;
  clients: number;
  scopes: string[];
  jobsPerScope: number;
  rate: number;
}

const QUEUE = "bench-latency";

/** A way updates go: our gateway, or the BullMQ relay with a minimal payload or our job record. */
type PathKind = "gateway" | "bullmq" | "bullmqRecord";
const PATHS = ["gateway", "bullmq", "bullmqRecord"] as const;
const SERVER_OF: Record<PathKind, "gateway" | "bullmq"> = {
  gateway: "gateway",
  bullmq: "bullmq",
  bullmqRecord: "bullmq",
};

async function writersFor(
  kind: PathKind,
  redis: TestRedis,
  client: Redis,
  scenario: Scenario,
  first: FirstWrite,
): Promise<Writers> {
  const options = { scopes: scenario.scopes, jobsPerScope: scenario.jobsPerScope };
  const writers =
    kind === "gateway"
      ? await TrackerWriters.create(client, options)
      : await BullWriters.create(redis.url, QUEUE, { ...options, record: kind === "bullmqRecord" });
  return new TimedWriters(writers, first);
}

function scenarios(scale: Scale): Scenario[] {
  const { latency } = scale;
  const list: Scenario[] = latency.clients.map((clients) => {
    const count = Math.max(1, Math.round(clients / latency.clientsPerScope));
    return {
      label: `spread: ${clients} clients, ${count} scopes`,
      clients,
      scopes: Array.from({ length: count }, (_, k) => `lat:${clients}:${k}`),
      jobsPerScope: 1,
      rate: latency.rate,
    };
  });
  list.push({
    label: `hot scope: ${latency.hotClients} clients, 1 scope, ${latency.hotJobs} jobs`,
    clients: latency.hotClients,
    scopes: ["lat:hot"],
    jobsPerScope: latency.hotJobs,
    rate: latency.hotRate,
  });
  return list;
}

const NAMES: Record<PathKind, string> = {
  gateway: "redis-progress gateway",
  bullmq: "BullMQ: updateProgress → QueueEvents → emit",
  bullmqRecord: "the same BullMQ path, sending our job record",
};

/** The median of the rounds that have the figure (null: none has). */
function medianOf(values: number[]): number | null {
  const known = values.filter((v) => Number.isFinite(v));
  return known.length === 0 ? null : median(known);
}

/**
 * A path's p50 against another's, round by round (the paths take turns, so
 * each pair saw the machine alike): the median ratio and, in brackets, the
 * lowest and highest, which show how far one run's figure can move.
 */
function pairedRatio(phases: PhaseResult[], other: PhaseResult[]): string | null {
  const ratios = phases
    .map((p, r) => p.client.latency.p50 / (other[r]?.client.latency.p50 ?? NaN))
    .filter((v) => Number.isFinite(v));
  if (ratios.length === 0) return null;
  const percent = (v: number) => Math.round(v * 100);
  const middle = `${percent(median(ratios))}%`;
  if (ratios.length === 1) return middle;
  return `${middle} (${percent(Math.min(...ratios))}–${percent(Math.max(...ratios))})`;
}

/**
 * One table row from a path's rounds; `others` are the BullMQ paths' rounds,
 * run alongside.
 */
function row(
  scenario: Scenario,
  kind: PathKind,
  phases: PhaseResult[],
  others: { bullmq: PhaseResult[]; bullmqRecord: PhaseResult[] },
  errors: number,
): Cell[] {
  const pooled = new Samples();
  for (const phase of phases) pooled.pushAll(phase.client.samples);
  const latency = pooled.summary();
  const perUpdate = scenario.clients / scenario.scopes.length;
  const sent = phases.reduce((sum, p) => sum + p.sent, 0);
  const values = phases.reduce((sum, p) => sum + p.client.values, 0);
  const ratio = kind === "bullmq" ? "100%" : pairedRatio(phases, others.bullmq);
  // The same information on both sides: ours against the relay carrying our record.
  const sameRecord = kind === "gateway" ? pairedRatio(phases, others.bullmqRecord) : null;
  const arrival = medianOf(phases.map((p) => p.arrivals?.arrival.p50 ?? NaN));
  const writerShare = medianOf(phases.map((p) => p.writerShare?.p50 ?? NaN));
  const toData = medianOf(phases.map((p) => p.arrivals?.toData.p50 ?? NaN));
  const handling = medianOf(phases.map((p) => p.arrivals?.handling.p50 ?? NaN));
  const firstWrite = medianOf(phases.map((p) => p.arrivals?.firstWrite.p50 ?? NaN));
  const fromData = medianOf(phases.map((p) => p.arrivals?.fromData.p50 ?? NaN));
  return [
    scenario.label,
    NAMES[kind],
    Math.round(medianOf(phases.map((p) => p.rate)) ?? 0),
    Math.round(medianOf(phases.map((p) => p.deliveriesPerSecond)) ?? 0),
    latency.p50,
    latency.p99,
    latency.max,
    ratio,
    sameRecord,
    writerShare === null ? null : writerShare * 1000,
    toData === null ? null : toData * 1000,
    arrival,
    firstWrite === null ? null : firstWrite * 1000,
    fromData === null ? null : fromData * 1000,
    handling === null ? null : handling * 1000,
    medianOf(phases.map((p) => p.redisUsPerUpdate ?? NaN)),
    `${((values / Math.max(1, sent * perUpdate)) * 100).toFixed(0)}%`,
    Math.round(medianOf(phases.map((p) => p.server.cpu)) ?? 0),
    medianOf(phases.map((p) => p.server.lagP99)),
    Math.round(medianOf(phases.map((p) => p.client.meter.cpu)) ?? 0),
    errors,
  ];
}

export async function benchLatency(options: { redis: TestRedis; scale: Scale }): Promise<Table[]> {
  const { redis, scale } = options;
  const { rounds } = scale.latency;
  const loadgen = await LoadGen.start();
  const servers: Partial<Record<ServerKind, ServerProc>> = {};
  const writerClient = new Redis(redis.url);
  const first = new FirstWrite();
  const rows: Cell[][] = [];
  try {
    servers.gateway = await ServerProc.start("gateway", { redisUrl: redis.url });
    servers.bullmq = await ServerProc.start("bullmq", { redisUrl: redis.url, queue: QUEUE });
    for (const scenario of scenarios(scale)) {
      const writers = {
        gateway: await writersFor("gateway", redis, writerClient, scenario, first),
        bullmq: await writersFor("bullmq", redis, writerClient, scenario, first),
        bullmqRecord: await writersFor("bullmqRecord", redis, writerClient, scenario, first),
      };
      const phases: Record<PathKind, PhaseResult[]> = {
        gateway: [],
        bullmq: [],
        bullmqRecord: [],
      };
      try {
        // The two BullMQ paths share the relay and its clients (they take turns).
        for (const kind of ["gateway", "bullmq"] as const) {
          await openAll(loadgen, {
            url: (servers[kind] as ServerProc).url,
            count: scenario.clients,
            scopes: scenario.scopes,
            secret: BENCH_SECRET,
          });
        }
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? PATHS : [...PATHS].reverse();
          for (const kind of order) {
            phases[kind].push(
              await runPhase({
                source: { writers: writers[kind] },
                server: servers[SERVER_OF[kind]] as ServerProc,
                loadgen,
                rate: scenario.rate,
                seconds: scale.latency.seconds / rounds,
                // The first round warms everything up; later ones warm this path's
                // caches again after the other path ran.
                warmup: round === 0 ? scale.latency.warmup : Math.min(0.3, scale.latency.warmup),
                redis: writerClient,
              }),
            );
          }
        }
        for (const kind of PATHS) {
          rows.push(row(scenario, kind, phases[kind], phases, writers[kind].errors));
        }
      } finally {
        await loadgen.close();
        await Promise.all(PATHS.map((kind) => writers[kind].close()));
      }
    }
  } finally {
    first.restore();
    writerClient.disconnect();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await loadgen.stop();
  }
  return [
    {
      title: "End-to-end latency: worker's write → socket.io client (ms)",
      columns: [
        "scenario",
        "path",
        "updates/s",
        "deliveries/s",
        "p50",
        "p99",
        "max",
        "p50 vs BullMQ (median of per-round ratios, lowest–highest)",
        "p50 vs BullMQ with our record (same, paired)",
        "writer: call → socket write p50 µs",
        "→ server's Redis socket p50 µs",
        "→ server's handler p50 (ms)",
        "server → first client write p50 µs",
        "Redis bytes in → first client write p50 µs",
        "server handling p50 µs",
        "Redis µs per update",
        "values received / sent×watchers",
        "server CPU %",
        "server lag p99 (ms)",
        "load generator CPU %",
        "write errors",
      ],
      rows,
      notes: [
        `${scale.latency.seconds} s recorded per row, in ${scale.latency.rounds} rounds taking ` +
          "turns with the other paths (ABBA, all paths' clients connected throughout), after " +
          `${scale.latency.warmup} s of warm-up (${Math.min(0.3, scale.latency.warmup)} s before each later round); ` +
          "p50/p99/max are over all rounds' samples, the other columns the median round. " +
          "The ratios pair each round with the same round of the other path; 'with our record' " +
          "compares ours with the relay sending the same job record, so the same information. " +
          "Latency = receive time in the load generator minus the stamp the writer put in the " +
          "update (CLOCK_MONOTONIC, shared by the processes of this machine), per job value " +
          "received. 'writer: call → socket write' is the writer's own share (its first socket write " +
          "after the call, net.Socket patched in the writer's process); '→ server's Redis socket' the " +
          "stamp to the `data` event that brought the update to the server; '→ server's handler' the " +
          "stamp to the server's handler for it (ours is called once ioredis has parsed the message, " +
          "the relay's once QueueEvents has, JSON.parse included); " +
          "'server → first client write' the time from that handler to the server's first socket write " +
          "for it (net.Socket _write/_writev, patched in the server process); 'Redis bytes in → " +
          "first client write' the same end from the `data` event that brought the update's bytes " +
          "(before ioredis parses them, and for the relay before QueueEvents and its JSON.parse): " +
          "the one server figure that starts at the same point for both; " +
          "'server handling' the server's synchronous work per update (parse, merge, emit to the " +
          "room's sockets). 'Redis µs per update' is the scripts' time (the commands they run " +
          "included) plus the BullMQ reader's XREADs, from INFO commandstats over the phase: at " +
          "these rates Redis's caches are cold between updates. Four processes (writer, Redis, server, clients) share 2 cores with other " +
          "work on the machine. A hot-scope row below 100% received means values were coalesced " +
          "(superseded by a newer one of the same job before the window closed). " +
          "Targets: p50 ≤ 2 ms, p99 ≤ 10 ms at 1,000 clients, below the BullMQ path.",
      ],
    },
  ];
}
