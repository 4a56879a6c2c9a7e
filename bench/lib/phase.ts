/** One measured phase: drive updates at a steady rate while the load generator records. */
import type { Redis } from "ioredis";
import type { RecordResult } from "../procs/loadgen";
import type { ArrivalSummary } from "./arrivals";
import { pace } from "./pace";
import type { LoadGen, ServerProc } from "./servers";
import type { Meter, Summary } from "./stats";
import { commandStats, redisCpuUs } from "./wire";
import { TimedWriters, type Writers } from "./writers";

export interface PhaseResult {
  /** Updates sent and the rate achieved. */
  sent: number;
  rate: number;
  client: RecordResult;
  server: Meter;
  /** Writer → server and the server's handling (not for the bare server). */
  arrivals?: ArrivalSummary;
  /** Deliveries (progress events received by clients) per second of driving. */
  deliveriesPerSecond: number;
  /**
   * Redis time per update sent (`INFO commandstats`, when asked): the scripts
   * (with the commands they run) and the stream reads of a BullMQ reader, at
   * this phase's rate, so with the caches as cold as that rate leaves them.
   */
  redisUsPerUpdate?: number;
  /** The writer's call → its socket write, when the source's writers are timed. */
  writerShare?: Summary;
  /**
   * CPU of this process (the writers; for the bare server, only its pacing
   * requests) and of Redis (when `redis` is given), in % of a core over
   * the step and its 150 ms tail: what making the updates takes from the
   * cores the server and the load generator share. Read with
   * process.cpuUsage() rather than a ProcessMeter, whose event-loop histogram
   * would wake the writers' process every 10 ms.
   */
  sourceCpu: number;
  redisCpu?: number;
}

/** Commands whose time is the update path's: scripts (inner commands included) and XREADs. */
const UPDATE_PATH = ["evalsha", "eval", "xread"];

/** Where the updates come from: writers in this process, or the bare server's own loop. */
export type Source = { writers: Writers } | { bare: ServerProc; scopes: string[] };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function drive(source: Source, rate: number, seconds: number) {
  if ("writers" in source) {
    const result = await pace(rate, seconds, (i) => source.writers.write(i));
    await source.writers.settle();
    return result;
  }
  return source.bare.drive(rate, seconds, source.scopes);
}

export async function runPhase(options: {
  source: Source;
  server: ServerProc;
  loadgen: LoadGen;
  rate: number;
  seconds: number;
  warmup: number;
  /** A connection to the Redis the writers use, to read its commandstats and CPU time. */
  redis?: Redis;
}): Promise<PhaseResult> {
  const { source, server, loadgen, rate } = options;
  if (options.warmup > 0) await drive(source, rate, options.warmup);
  // Let the warm-up's last deliveries land before counting.
  await sleep(100);
  const traced = server.kind !== "bare";
  if (traced) await server.arrivals();
  const timed =
    "writers" in source && source.writers instanceof TimedWriters ? source.writers : null;
  timed?.samples.clear();
  await options.redis?.config("RESETSTAT");
  await server.meter(true);
  await loadgen.startRecording();
  const redisCpuBefore = options.redis ? await redisCpuUs(options.redis) : 0;
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const sent = await drive(source, rate, options.seconds);
  // Updates still on their way are part of this phase.
  await sleep(150);
  const cpu = process.cpuUsage(cpuBefore);
  const wallUs = (performance.now() - wallBefore) * 1000;
  const redisCpu = options.redis
    ? (((await redisCpuUs(options.redis)) - redisCpuBefore) / wallUs) * 100
    : undefined;
  const client = await loadgen.stopRecording();
  const serverMeter = await server.meter();
  const arrivals = traced ? await server.arrivals() : undefined;
  let redisUsPerUpdate: number | undefined;
  if (options.redis !== undefined && sent.issued > 0) {
    const stats = await commandStats(options.redis);
    let usec = 0;
    for (const name of UPDATE_PATH) usec += stats.get(name)?.usec ?? 0;
    redisUsPerUpdate = usec / sent.issued;
  }
  return {
    redisUsPerUpdate,
    writerShare: timed?.samples.summary(),
    sourceCpu: ((cpu.user + cpu.system) / wallUs) * 100,
    redisCpu,
    sent: sent.issued,
    rate: sent.rate,
    client,
    server: serverMeter,
    arrivals,
    deliveriesPerSecond: client.deliveries / options.seconds,
  };
}
