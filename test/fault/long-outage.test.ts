/**
 * Fault 4: a 30 s Redis outage while a worker ticks at a high rate. The worker
 * (its own process, run with --expose-gc) reports its heap after a full GC
 * every 500 ms: it stays flat through the outage, because each tracker holds
 * its latest state and at most one write (no offline queue grows). Nothing
 * crashes (exit 0, empty stderr), and once Redis is back the stored state is
 * the latest one the worker had (its `meta.step` and count).
 */
import { killChildren, report, startWorker, storedJobs } from "../helpers/fault";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

const OUTAGE_MS = 30_000;
const JOBS = 10;
const MB = 1024 * 1024;

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});

afterAll(async () => {
  killChildren();
  await redis.stop();
});

interface Sample {
  heapUsed: number;
  step: number;
  writes: number;
  errors: number;
}

test(
  "heap stays flat through a 30 s outage at a high tick rate; the latest state lands after it",
  async () => {
    const scope = "fault:outage";
    const worker = startWorker({
      REDIS_URL: redis.url,
      SCOPE: scope,
      ID: "outage",
      JOBS,
      TOTAL: 1e12,
      MODE: "spin",
      TICK_N: 1000,
      INTERVAL: 20,
      TIMEOUT: 30_000,
      MEMORY_MS: 500,
    });
    const samples = () =>
      worker.events.filter((e) => e.event === "memory") as unknown[] as Sample[];
    await worker.waitForEvent((e) => e.event === "ready", "the worker's markers");
    // Warm-up with Redis up: JIT, connection, steady write rate.
    await waitFor(() => samples().length >= 6, { what: "3 s of memory samples" });
    const before = samples().slice(-3);

    await redis.kill();
    const down = samples().length;
    // The scenario itself: Redis stays down for 30 s.
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const during = samples().slice(down);
    await redis.restart();
    const up = samples().length;
    await waitFor(() => samples().length >= up + 6, { what: "3 s of samples after the outage" });
    const after = samples().slice(up);

    worker.send("finish");
    const finished = await worker.waitForEvent((e) => e.event === "finished", "the worker's end");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.stderr).toBe("");

    // The latest state, not a stale one: every job stored with the worker's last step.
    const truth = await storedJobs(redis.client(), scope);
    expect(Object.keys(truth)).toHaveLength(JOBS);
    for (const job of Object.values(truth)) {
      expect(job.status).toBe("completed");
      expect(job.meta).toEqual({ step: finished.step });
      expect(job.count).toBe((finished.step as number) * 1000);
    }

    const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;
    const max = (list: Sample[]) => Math.max(...list.map((s) => s.heapUsed));
    const mean = (list: Sample[]) => list.reduce((sum, s) => sum + s.heapUsed, 0) / list.length;
    // One sample every 500 ms: at least one a second on average, even on a loaded machine.
    expect(during.length).toBeGreaterThanOrEqual(30);
    // Flat: the outage's highest heap within a few MB of before it (a queue of
    // ticks or writes would grow by many MB over 30 s at this rate).
    expect(max(during) - max(before)).toBeLessThan(5 * MB);
    // The worker kept ticking all along and reported errors instead of throwing.
    const last = during.at(-1) as Sample;
    const first = during[0] as Sample;
    expect(last.step).toBeGreaterThan(first.step);
    expect(last.errors).toBeGreaterThan(first.errors);
    report("4 long-outage", {
      outageMs: OUTAGE_MS,
      trackers: JOBS,
      heapBeforeMB: mb(mean(before)),
      heapDuringMeanMB: mb(mean(during)),
      heapDuringMaxMB: mb(max(during)),
      heapAfterMB: mb(mean(after)),
      // Per tracker per loop turn: tick(1000) and setMeta({ step }).
      tickCallsPerSecondDuringOutage: Math.round(
        ((last.step - first.step) * JOBS) / ((during.length - 1) * 0.5),
      ),
      writesBeforeOutage: before.at(-1)?.writes,
      writeErrorsReportedDuringOutage: last.errors - first.errors,
      finalStep: finished.step,
    });
  },
  OUTAGE_MS + 60_000,
);
