/**
 * `npm run bench [-- --quick] [-- --only=tick,...]`: starts its own redis-server,
 * runs the benchmarks, prints markdown tables and writes them as JSON under bench/results/.
 */
import os from "node:os";
import { TestRedis } from "../test/helpers/redis-server";
import { markdown, writeResults, type Table } from "./lib/report";
import { benchTick } from "./tick";

type Bench = (ctx: { redis: TestRedis; quick: boolean }) => Promise<Table[]>;

const BENCHES: Record<string, Bench> = {
  tick: async ({ redis, quick }) => [await benchTick({ redisUrl: redis.url, quick })],
};

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const only = process.argv
    .find((a) => a.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",");
  const redis = await TestRedis.start();
  const tables: Table[] = [];
  const started = Date.now();
  try {
    for (const [name, bench] of Object.entries(BENCHES)) {
      if (only && !only.includes(name)) continue;
      for (const table of await bench({ redis, quick })) {
        tables.push(table);
        console.log(`${markdown(table)}\n`);
      }
    }
  } finally {
    await redis.stop();
  }
  const meta = {
    quick,
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  console.log(`results: ${writeResults(quick ? "bench-quick" : "bench", tables, meta)}`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
