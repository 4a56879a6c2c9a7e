/**
 * What every server child of the bench answers besides its own requests:
 * `meter` (CPU and event-loop lag since the last reset) and `memory` (heap and
 * RSS, after full collections when the child runs with --expose-gc).
 */
import { writeHeapSnapshot } from "node:v8";
import { ProcessMeter } from "../lib/stats";

export interface MemoryReading {
  heapUsed: number;
  rss: number;
  /** True when the reading follows full garbage collections. */
  collected: boolean;
}

const meter = new ProcessMeter();

/** Full collections until the heap stops shrinking (bounded), then a reading. */
async function memory(): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    let last = Infinity;
    for (let i = 0; i < 6; i++) {
      gc();
      // Let weak callbacks and finalizers run between collections.
      await new Promise((resolve) => setImmediate(resolve));
      const used = process.memoryUsage().heapUsed;
      if (used >= last - 1024) break;
      last = used;
    }
  }
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, rss: usage.rss, collected: gc !== undefined };
}

export const commonHandlers = {
  meter: (payload: unknown) => {
    const reading = meter.read();
    if ((payload as { reset?: boolean } | undefined)?.reset) meter.reset();
    return reading;
  },
  resetMeter: () => {
    meter.reset();
    return true;
  },
  memory,
  /** Writes a heap snapshot (to see what a figure is made of); resolves with its path. */
  heapSnapshot: (payload: unknown) => writeHeapSnapshot((payload as { path?: string })?.path),
};
