/**
 * The writer's own share of an update's latency: from the stamp the latency
 * bench puts in an update to the moment the worker's process hands the write
 * to its socket (the first `_write`/`_writev` of a socket after the stamp).
 * Everything the library does before Redis sees the update is in it: for
 * ours, tick(), setMeta(), building the value and the state, the PING and the
 * EVALSHA; for BullMQ, `job.updateProgress()` down to its EVALSHA.
 *
 * The end-to-end latency bench cannot show this part on its own (Redis, the
 * server and the load generator move its figures by ±15 points from run to
 * run); here both libraries write in one process, taking turns write by
 * write, so the machine's state is the same for both.
 */
import type { Redis } from "ioredis";
import type { TestRedis } from "../test/helpers/redis-server";
import { median, percentile, type Cell, type Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { FirstWrite } from "./lib/first-write";
import { BullWriters, TimedWriters, TrackerWriters } from "./lib/writers";

interface Path {
  label: string;
  timed: TimedWriters;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `writes` times per path in turns, each awaited; the first 20 of each warm up. */
async function measure(paths: Path[], writes: number, gapMs: number): Promise<void> {
  for (let i = 0; i < writes; i++) {
    // ABBA: neither path always goes first after a gap.
    const order = i % 2 === 0 ? paths : [...paths].reverse();
    for (const path of order) {
      if (gapMs > 0) await sleep(gapMs);
      path.timed.write(i);
      await path.timed.settle();
      if (i === 19) path.timed.samples.clear();
    }
  }
}

export async function benchWriterCost(ctx: { redis: TestRedis; scale: Scale }): Promise<Table> {
  const { redis, scale } = ctx;
  const client: Redis = redis.client();
  const scopes = Array.from({ length: 20 }, (_, i) => `writer-cost-${i}`);
  const ours = await TrackerWriters.create(client, { scopes, jobsPerScope: 1 });
  const bull = await BullWriters.create(redis.url, "writer-cost", { scopes, jobsPerScope: 1 });
  const rows: Cell[][] = [];
  const first = new FirstWrite();
  try {
    for (const [condition, gapMs] of [
      ["2 ms idle before each write", 2],
      ["back to back", 0],
    ] as const) {
      const paths: Path[] = [
        {
          label: "redis-progress: tick(), setMeta(), flush()",
          timed: new TimedWriters(ours, first),
        },
        { label: "BullMQ job.updateProgress()", timed: new TimedWriters(bull, first) },
      ];
      await measure(paths, scale.writerCost.writes + 20, gapMs);
      const samples = paths.map((path) => Array.from(path.timed.samples.values()));
      const base = median(samples[1] ?? []);
      for (const [k, path] of paths.entries()) {
        const values = samples[k] ?? [];
        const p50 = median(values);
        rows.push([
          condition,
          path.label,
          values.length,
          p50,
          percentile(values, 90),
          `${Math.round((p50 / base) * 100)}%`,
        ]);
      }
    }
  } finally {
    first.restore();
    await ours.close();
    await bull.close();
    client.disconnect();
  }
  return {
    title: "Writer's share: the update's stamp → its socket write (µs)",
    columns: ["condition", "path", "writes", "p50 µs", "p90 µs", "p50 vs BullMQ"],
    rows,
    notes: [
      "One process writes both ways in turn (ABBA, 20 jobs each, 20 warm-up writes), each write awaited before the next; the time runs from a stamp taken just before the write call to the first socket write after it (`net.Socket` `_write`/`_writev`), so it is everything the library does before Redis can see the update. With 2 ms of idle before each write the CPU's caches are partly cold, as in the latency bench at 200 updates/s; back to back they are warm.",
    ],
  };
}
