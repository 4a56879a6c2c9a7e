/**
 * `npm run bench [-- --quick | --smoke] [-- --only=tick,redis,...] [-- --results-dir=DIR]`:
 * starts its own redis-server, runs the benchmarks, prints markdown tables and
 * writes them as JSON under bench/results/ (or DIR).
 *
 * `--quick` takes about a minute with smaller client counts and shorter
 * phases; `--smoke` only checks that every path runs (the smoke test).
 * `BENCH_CPU_PROF=<dir>` writes a CPU profile of every child process there.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { TestRedis } from "../test/helpers/redis-server";
import { benchFanout } from "./fanout";
import { benchInstructions } from "./instructions";
import { benchJoin } from "./join";
import { benchLatency } from "./latency";
import { markdown, writeResults, type Table } from "./lib/report";
import { SCALES, type Scale } from "./lib/scale";
import { benchMemory } from "./memory";
import { benchRedisWork } from "./redis-work";
import { benchTick } from "./tick";
import { benchWriterCost } from "./writer-cost";

interface Context {
  redis: TestRedis;
  scale: Scale;
}
type Bench = (ctx: Context) => Promise<Table[]>;

const BENCHES: Record<string, Bench> = {
  tick: async ({ redis, scale }) => [
    await benchTick({ redisUrl: redis.url, quick: scale.name !== "full" }),
  ],
  redis: async (ctx) => [await benchRedisWork(ctx)],
  instructions: async (ctx) => [await benchInstructions(ctx)],
  writer: async (ctx) => [await benchWriterCost(ctx)],
  latency: benchLatency,
  fanout: benchFanout,
  memory: benchMemory,
  join: benchJoin,
};

/** The soft limit on open files, as the children inherit it. */
function openFileLimit(): number {
  try {
    return Number(execFileSync("sh", ["-c", "ulimit -n"]).toString().trim());
  } catch {
    return Number.NaN;
  }
}

function neededFiles(scale: Scale): number {
  // The fan-out bench keeps both servers' clients connected at once.
  return Math.max(...scale.memory.counts, 2 * scale.fanout.clients, ...scale.latency.clients) + 200;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const scale =
    SCALES[args.includes("--smoke") ? "smoke" : args.includes("--quick") ? "quick" : "full"];
  const option = (name: string) =>
    args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const only = option("only")?.split(",");
  const unknown = only?.filter((name) => !(name in BENCHES));
  if (unknown && unknown.length > 0) {
    throw new Error(
      `Unknown bench ${unknown.join(", ")}; known: ${Object.keys(BENCHES).join(", ")}`,
    );
  }
  const files = openFileLimit();
  if (files < neededFiles(scale)) {
    // Each process holds one descriptor per client; raise the limit (ulimit -n) and rerun.
    throw new Error(
      `ulimit -n is ${files}; this scale needs at least ${neededFiles(scale)} open files per process`,
    );
  }
  console.log(
    `redis-progress bench, scale: ${scale.name}${scale.name === "full" ? "" : " (smaller client counts and shorter phases than the full run)"}\n`,
  );
  const redis = await TestRedis.start();
  const tables: Table[] = [];
  const started = Date.now();
  try {
    for (const [name, bench] of Object.entries(BENCHES)) {
      if (only && !only.includes(name)) continue;
      for (const table of await bench({ redis, scale })) {
        if (scale.name !== "full") table.title += ` [${scale.name}]`;
        tables.push(table);
        console.log(`${markdown(table)}\n`);
      }
    }
  } finally {
    await redis.stop();
  }
  const meta = {
    scale: scale.name,
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
    openFiles: files,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const dir = option("results-dir") ?? join(__dirname, "results");
  console.log(
    `took ${meta.seconds} s; results: ${writeResults(`bench-${scale.name}`, tables, meta, dir)}`,
  );
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
