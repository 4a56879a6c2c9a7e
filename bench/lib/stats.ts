/**
 * Latency samples and per-process meters shared by the bench and its children.
 *
 * Timestamps are `nowUs()`: `process.hrtime`, which on Linux reads
 * CLOCK_MONOTONIC, one clock for every process of the machine. A value stamped
 * by the writer process can thus be subtracted from a reading in the load
 * generator process without any clock-sync step.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/** Microseconds on the machine-wide monotonic clock (fractional). */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** Percentiles of a set of latencies, in ms. */
export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export const EMPTY_SUMMARY: Summary = { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN };

/** A growable buffer of latency samples in µs (capped, so a runaway phase cannot eat memory). */
export class Samples {
  #data = new Float64Array(4096);
  #length = 0;
  /** Samples beyond the cap, counted but not kept. */
  dropped = 0;

  constructor(readonly cap = 4_000_000) {}

  get length(): number {
    return this.#length;
  }

  push(us: number): void {
    if (this.#length === this.#data.length) {
      if (this.#length >= this.cap) {
        this.dropped += 1;
        return;
      }
      const grown = new Float64Array(Math.min(this.cap, this.#data.length * 2));
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#length++] = us;
  }

  clear(): void {
    this.#length = 0;
    this.dropped = 0;
  }

  /** A copy of the samples kept (µs). */
  values(): Float64Array {
    return this.#data.slice(0, this.#length);
  }

  /** Adds samples taken elsewhere (µs). */
  pushAll(values: Float64Array): void {
    for (const value of values) this.push(value);
  }

  /** p50/p99/max/mean in ms. */
  summary(): Summary {
    const n = this.#length;
    if (n === 0) return EMPTY_SUMMARY;
    const sorted = this.#data.slice(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i] as number;
    const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] as number;
    return {
      count: n,
      p50: at(0.5) / 1000,
      p99: at(0.99) / 1000,
      max: (sorted[n - 1] as number) / 1000,
      mean: sum / n / 1000,
    };
  }
}

/** What a process did during a phase. */
export interface Meter {
  /** CPU time (user + system) as a percentage of one core over the phase. */
  cpu: number;
  /** Event-loop delay p99 and max in ms (monitorEventLoopDelay, 10 ms resolution). */
  lagP99: number;
  lagMax: number;
  seconds: number;
}

/** Measures this process's CPU use and event-loop delay between reset() and read(). */
export class ProcessMeter {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  #cpu = process.cpuUsage();
  #at = nowUs();

  constructor() {
    this.#histogram.enable();
  }

  reset(): void {
    this.#histogram.reset();
    this.#cpu = process.cpuUsage();
    this.#at = nowUs();
  }

  read(): Meter {
    const cpu = process.cpuUsage(this.#cpu);
    const elapsed = nowUs() - this.#at;
    // The histogram counts the 10 ms sampling interval itself; report the delay beyond it.
    const beyond = (ns: number) => Math.max(0, ns / 1e6 - 10);
    return {
      cpu: elapsed > 0 ? ((cpu.user + cpu.system) / elapsed) * 100 : 0,
      lagP99: this.#histogram.count > 0 ? beyond(this.#histogram.percentile(99)) : 0,
      lagMax: this.#histogram.count > 0 ? beyond(this.#histogram.max) : 0,
      seconds: elapsed / 1e6,
    };
  }
}
