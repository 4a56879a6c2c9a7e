/** One measured phase: drive updates at a steady rate while the load generator records. */
import type { RecordResult } from "../procs/loadgen";
import type { ArrivalSummary } from "./arrivals";
import { pace } from "./pace";
import type { LoadGen, ServerProc } from "./servers";
import type { Meter } from "./stats";
import type { Writers } from "./writers";

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
}

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
}): Promise<PhaseResult> {
  const { source, server, loadgen, rate } = options;
  if (options.warmup > 0) await drive(source, rate, options.warmup);
  // Let the warm-up's last deliveries land before counting.
  await sleep(100);
  const traced = server.kind !== "bare";
  if (traced) await server.arrivals();
  await server.meter(true);
  await loadgen.startRecording();
  const sent = await drive(source, rate, options.seconds);
  // Updates still on their way are part of this phase.
  await sleep(150);
  const client = await loadgen.stopRecording();
  const serverMeter = await server.meter();
  const arrivals = traced ? await server.arrivals() : undefined;
  return {
    sent: sent.issued,
    rate: sent.rate,
    client,
    server: serverMeter,
    arrivals,
    deliveriesPerSecond: client.deliveries / options.seconds,
  };
}
