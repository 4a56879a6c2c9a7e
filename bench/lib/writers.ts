/**
 * Update sources driven by the bench process: our trackers, and BullMQ jobs
 * calling `updateProgress`. Each `write(i)` stamps the update with `nowUs()`
 * (in `meta.t`, or in the BullMQ progress data) and sends it at once, without
 * awaiting, so that a steady-rate driver (pace) keeps its rate.
 */
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { nowUs } from "./stats";

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

  private constructor(queue: Queue, jobs: { job: Job; scope: string }[]) {
    this.#queue = queue;
    this.#jobs = jobs;
  }

  static async create(
    redisUrl: string,
    queueName: string,
    options: WritersOptions,
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
    return new BullWriters(queue, jobs);
  }

  get errors(): number {
    return this.#inFlight.errors;
  }

  write(i: number): void {
    const { job, scope } = this.#jobs[i % this.#jobs.length] as { job: Job; scope: string };
    this.#inFlight.add(job.updateProgress({ scope, percent: i % 100, t: nowUs() }));
  }

  settle(): Promise<void> {
    return this.#inFlight.settle();
  }

  async close(): Promise<void> {
    await this.settle();
    await this.#queue.close();
  }
}
