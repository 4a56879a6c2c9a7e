/**
 * Redis's own work per update as instructions, counted by valgrind's callgrind
 * on a redis-server of its own: the same variants as the Redis-work bench, each
 * with its reader attached. Unlike CPU time, the count does not move with what
 * else the machine (or the host under this VM) is doing: the same code and
 * inputs give the same total to within a few hundred instructions. It covers
 * what Redis runs in user space (parsing, scripts, the commands, building
 * replies, its event loop, its cron) and not the kernel's share of its system
 * calls, which `INFO cpu` in the Redis-work bench includes.
 *
 * Skipped, with a note, when valgrind is not installed.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { freePort } from "../test/helpers/gateway";
import { findExecutable } from "../server/find-executable";
import { systemRedisBinary } from "../test/helpers/redis-server";
import type { Cell, Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import {
  bullVariant,
  handRolledVariant,
  trackerVariant,
  warmUp,
  type RedisTarget,
  type Variant,
} from "./lib/work-variants";

const run = promisify(execFile);

const TITLE = "Redis instructions per update (callgrind)";

/** A redis-server under callgrind; `dump()` returns the instructions since the last dump. */
class CountedRedis implements RedisTarget {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #dumps = 0;

  private constructor(child: ChildProcess, dir: string, port: number) {
    this.#child = child;
    this.#dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<CountedRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "rp-callgrind-"));
    const child = spawn(
      "valgrind",
      [
        "--tool=callgrind",
        `--callgrind-out-file=${join(dir, "out")}`,
        systemRedisBinary(),
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      { stdio: "ignore" },
    );
    const redis = new CountedRedis(child, dir, port);
    // Under valgrind the server takes a few seconds to listen.
    const probe = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => {});
    const deadline = Date.now() + 60_000;
    try {
      for (;;) {
        try {
          await probe.connect();
          await probe.ping();
          break;
        } catch (error) {
          if (Date.now() > deadline || child.exitCode !== null) throw error;
          probe.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } finally {
      probe.disconnect();
    }
    return redis;
  }

  async dump(): Promise<number> {
    await run("callgrind_control", ["-d", String(this.#child.pid)]);
    this.#dumps += 1;
    const file = join(this.#dir, `out.${this.#dumps}`);
    const totals = /^totals: (\d+)/m.exec(readFileSync(file, "utf8"));
    if (totals?.[1] === undefined) throw new Error(`no totals in ${file}`);
    return Number(totals[1]);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.kill("SIGKILL");
    await exited;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Instructions per update over `n` updates, each awaited and read by the variant's reader. */
async function measure(redis: CountedRedis, variant: Variant, n: number): Promise<number> {
  await warmUp(variant);
  await redis.dump();
  for (let i = 0; i < n; i++) await variant.update(i);
  variant.drainedBase += n;
  await variant.drained(variant.drainedBase);
  return (await redis.dump()) / n;
}

export async function benchInstructions(options: { scale: Scale }): Promise<Table> {
  const columns = ["variant", "instructions per update", "vs BullMQ"];
  const missing = ["valgrind", "callgrind_control"].filter((c) => findExecutable(c) === undefined);
  if (missing.length > 0) {
    return {
      title: TITLE,
      columns,
      rows: [],
      notes: [
        `Skipped: ${missing.join(" and ")} not installed (Debian: apt-get install valgrind).`,
      ],
    };
  }
  const n = options.scale.instructionWrites;
  const redis = await CountedRedis.start();
  const counts: [string, number][] = [];
  try {
    for (const make of [
      trackerVariant,
      bullVariant,
      (target: RedisTarget) => handRolledVariant(target, true),
    ]) {
      const variant = await make(redis);
      try {
        counts.push([variant.name, await measure(redis, variant, n)]);
      } finally {
        await variant.close();
      }
    }
  } finally {
    await redis.stop();
  }
  const bull = counts.find(([name]) => name.startsWith("BullMQ"))?.[1] ?? Number.NaN;
  const rows: Cell[][] = counts.map(([name, count]) => [
    name,
    Math.round(count),
    `${Math.round((count / bull) * 100)}%`,
  ]);
  return {
    title: TITLE,
    columns,
    rows,
    notes: [
      `${n} updates per variant, each awaited and read by the variant's reader, after 20 warm-up ` +
        "updates, on a redis-server run by valgrind --tool=callgrind (started by the bench); " +
        "callgrind_control dumps the count before and after. Everything Redis runs in user space " +
        "is counted (reading the command, the script with its commands, the replies and the " +
        "reader's message or XREAD, the event loop and cron); its system calls' kernel time, " +
        "which the Redis-work bench's INFO cpu includes, is not. The counts repeat to within a " +
        "few percent from run to run (BullMQ's moves most: when its reader's next XREAD arrives " +
        "varies), whatever else the machine does.",
    ],
  };
}
