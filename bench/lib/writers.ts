/**
 * Update sources driven by the bench process: our trackers, and BullMQ jobs
 * calling `updateProgress`. Each `write(i)` stamps the update with `nowUs()`
 * (in `meta.t`, or in the BullMQ progress data) and sends it at once, without
 * awaiting, so that a steady-rate driver (pace) keeps its rate.
 */
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import type { FirstWrite } from "./first-write";
import { nowUs, Samples } from "./stats";

export interface Writers {
  /** Sends update number `i` (round-robin over the jobs). */
  write(i: number): void;
  /** Writes that failed. */
  readonly errors: number;
  /** Resolves when no write is in flight. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Tracks in-flight promises so a phase can wait for its last writes. */
class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];
  errors = 0;

  add(promise: Promise<unknown>): void {
    this.#count += 1;
    promise
      .catch(() => {
        this.errors += 1;
      })
      .finally(() => {
        this.#count -= 1;
        if (this.#count === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
  }

  settle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

export interface WritersOptions {
  scopes: string[];
  jobsPerScope: number;
}

/**
 * One RedisProgress per job on one shared connection (a worker process). The
 * interval and heartbeat are far longer than a bench, so every write is one
 * the bench asked for: `setMeta` then `flush()`, one script call.
 */
export class TrackerWriters implements Writers {
  readonly trackers: RedisProgress[];
  readonly #inFlight = new InFlight();

  private constructor(trackers: RedisProgress[]) {
    this.trackers = trackers;
  }

  static async create(redis: Redis, options: WritersOptions): Promise<TrackerWriters> {
    const trackers: RedisProgress[] = [];
    for (const scope of options.scopes) {
      for (let j = 0; j < options.jobsPerScope; j++) {
        trackers.push(
          new RedisProgress({
            redis,
            scope,
            total: 1_000_000,
            interval: 3_600_000,
            heartbeat: 3_600_000,
            meta: { t: 0 },
          }),
        );
      }
    }
    await Promise.all(trackers.map((t) => t.ready));
    return new TrackerWriters(trackers);
  }

  get errors(): number {
    return this.#inFlight.errors;
  }

  write(i: number): void {
    const tracker = this.trackers[i % this.trackers.length] as RedisProgress;
    tracker.tick();
    tracker.setMeta({ t: nowUs() });
    this.#inFlight.add(tracker.flush());
  }

  settle(): Promise<void> {
    return this.#inFlight.settle();
  }

  /** The seq each job holds, by scope and id (what a client must end up with). */
  expected(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const t of this.trackers) (out[t.scope] ??= {})[t.id] = t.seq;
    return out;
  }

  async close(): Promise<void> {
    await this.settle();
    await Promise.all(this.trackers.map((t) => t.finish().catch(() => {})));
  }
}

/** BullMQ jobs (created with `queue.add`), each updated with `job.updateProgress`. */
export class BullWriters implements Writers {
  readonly #queue: Queue;
  readonly #jobs: { job: Job; scope: string }[];
  readonly #inFlight = new InFlight();
  readonly #record: boolean;
  readonly #startedAt = Date.now();

  private constructor(queue: Queue, jobs: { job: Job; scope: string }[], record: boolean) {
    this.#queue = queue;
    this.#jobs = jobs;
    this.#record = record;
  }

  static async create(
    redisUrl: string,
    queueName: string,
    options: WritersOptions & { record?: boolean },
  ): Promise<BullWriters> {
    const url = new URL(redisUrl);
    const queue = new Queue(queueName, {
      connection: { host: url.hostname, port: Number(url.port) },
    });
    const jobs: { job: Job; scope: string }[] = [];
    for (const scope of options.scopes) {
      for (let j = 0; j < options.jobsPerScope; j++) {
        jobs.push({ job: await queue.add("bench", { scope }), scope });
      }
    }
    return new BullWriters(queue, jobs, options.record === true);
  }

  get errors(): number {
    return this.#inFlight.errors;
  }

  write(i: number): void {
    const { job, scope } = this.#jobs[i % this.#jobs.length] as { job: Job; scope: string };
    if (!this.#record) {
      this.#inFlight.add(job.updateProgress({ scope, percent: i % 100, t: nowUs() }));
      return;
    }
    const t = nowUs();
    this.#inFlight.add(
      job.updateProgress(progressRecord(job.id ?? "", scope, i, this.#startedAt, t)),
    );
  }

  settle(): Promise<void> {
    return this.#inFlight.settle();
  }

  async close(): Promise<void> {
    await this.settle();
    await this.#queue.close();
  }
}

/**
 * What a BullMQ application would pass to `updateProgress` to show what our
 * job value shows ("94%, about 1 min left"): the fields of the gateway's value
 * with their magnitudes, the rate and the ETA computed in the worker, the
 * stamp in `meta.t`, and the scope the relay routes by.
 */
function progressRecord(
  id: string,
  scope: string,
  i: number,
  startedAt: number,
  t: number,
): Record<string, unknown> {
  const now = Date.now();
  const count = i + 1;
  const total = 1_000_000;
  const rate = (count * 1000) / Math.max(1, now - startedAt);
  return {
    scope,
    seq: count,
    count,
    total,
    percent: Math.floor((count * 100) / total),
    status: "running",
    updated_at: new Date(now).toISOString(),
    finished_at: null,
    estimated_finished_at: new Date(now + Math.ceil(((total - count) / rate) * 1000)).toISOString(),
    rate: Math.round(rate * 1e6) / 1e6,
    heartbeat: 3_600_000,
    retention: 86_400_000,
    id,
    started_at: new Date(startedAt).toISOString(),
    meta: { t },
  };
}

/**
 * Times each write of `inner` from its call to the first socket write after it
 * (the writer's share of the update's latency), through a `FirstWrite` shared
 * by every instance of the process. A write is read at the next call or at
 * `settle()`: BullMQ's reaches the socket a microtask after the call returns.
 */
export class TimedWriters implements Writers {
  readonly #inner: Writers;
  readonly #first: FirstWrite;
  #stamp = Number.NaN;
  /** Call → first socket write, µs. */
  readonly samples = new Samples();

  constructor(inner: Writers, first: FirstWrite) {
    this.#inner = inner;
    this.#first = first;
  }

  get errors(): number {
    return this.#inner.errors;
  }

  write(i: number): void {
    this.#take();
    this.#first.arm();
    this.#stamp = nowUs();
    this.#inner.write(i);
  }

  async settle(): Promise<void> {
    await this.#inner.settle();
    this.#take();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #take(): void {
    if (!Number.isNaN(this.#stamp) && !Number.isNaN(this.#first.at)) {
      this.samples.push(this.#first.at - this.#stamp);
    }
    this.#stamp = Number.NaN;
  }
}
