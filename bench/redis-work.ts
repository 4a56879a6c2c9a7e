/**
 * Redis work per flushed update (issue item 2): commands and round trips per
 * update counted on the client, commands run inside Redis (scripts included)
 * and Redis time from `INFO commandstats` after CONFIG RESETSTAT, and Redis's
 * own CPU from `INFO cpu`. Each variant has its reader attached, as in
 * production: a SUBSCRIBE connection (what the gateway holds) for ours and
 * the hand-rolled one, a QueueEvents consumer for BullMQ (its XREADs are
 * counted as the reader's work).
 */
import type { Redis } from "ioredis";
import type { TestRedis } from "../test/helpers/redis-server";
import { median, type Cell, type Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { commandStats, isOverhead, redisCpuUs, type CommandStat } from "./lib/wire";
import {
  bullVariant,
  connect,
  handRolledVariant,
  trackerVariant,
  warmUp,
  type Variant,
} from "./lib/work-variants";

function perUpdate(stats: Map<string, CommandStat>, names: Iterable<string>, n: number) {
  let calls = 0;
  let usec = 0;
  for (const name of names) {
    const stat = stats.get(name.toLowerCase());
    if (stat === undefined) continue;
    calls += stat.calls;
    usec += stat.usec;
  }
  return { calls: calls / n, usec: usec / n };
}

/** One round's figures of a variant, per update. */
interface Round {
  sent: number;
  roundTrips: number;
  scripts: number;
  executed: number;
  writerUs: number;
  readerCommands: number;
  readerUs: number;
  cpuUs: number;
  /** Per-command µs and what ran inside scripts, for the last column. */
  detail: string;
}

async function measureRound(admin: Redis, variant: Variant, n: number): Promise<Round> {
  await admin.config("RESETSTAT");
  variant.writer.reset();
  variant.reader?.reset();
  const cpuBefore = await redisCpuUs(admin);
  for (let i = 0; i < n; i++) await variant.update(i);
  variant.drainedBase += n;
  await variant.drained(variant.drainedBase);
  const cpu = (await redisCpuUs(admin)) - cpuBefore;
  const stats = await commandStats(admin);

  const writerNames = [...variant.writer.commands.keys()];
  const readerNames = [...(variant.reader?.commands.keys() ?? [])];
  const writer = perUpdate(stats, writerNames, n);
  const reader = perUpdate(stats, readerNames, n);
  let executed = 0;
  const inside: string[] = [];
  for (const [name, stat] of stats) {
    if (isOverhead(name) || readerNames.includes(name)) continue;
    executed += stat.calls;
    if (!writerNames.includes(name)) inside.push(`${name} ${(stat.calls / n).toFixed(1)}`);
  }
  const sent = writerNames
    .map((name) => {
      const stat = stats.get(name.toLowerCase());
      return stat ? `${name} ${(stat.usec / Math.max(1, stat.calls)).toFixed(1)} µs/call` : name;
    })
    .join(", ");
  const script = (stats.get("evalsha")?.calls ?? 0) + (stats.get("eval")?.calls ?? 0);
  return {
    sent: variant.writer.total / n,
    roundTrips: variant.writer.roundTrips / n,
    scripts: script / n,
    executed: executed / n,
    writerUs: writer.usec,
    readerCommands: variant.reader ? variant.reader.total / n : 0,
    readerUs: reader.usec,
    cpuUs: cpu / n,
    detail: `${sent}${inside.length > 0 ? `; inside: ${inside.join(", ")}` : ""}`,
  };
}

/**
 * Redis CPU against BullMQ's, round by round: each ratio compares two rounds
 * run back to back, so a burst of other work on the machine mostly cancels out.
 */
function ratioToBull(rounds: Round[], bull: Round[]): number {
  const ratios = rounds.flatMap((r, i) => {
    const b = bull[i];
    return b === undefined || b.cpuUs <= 0 ? [] : [r.cpuUs / b.cpuUs];
  });
  return ratios.length === 0 ? Number.NaN : median(ratios);
}

function row(variant: Variant, rounds: Round[], bull: Round[]): Cell[] {
  const pick = (key: Exclude<keyof Round, "detail">) => median(rounds.map((r) => r[key]));
  const cpu = rounds.map((r) => r.cpuUs);
  const ratio = ratioToBull(rounds, bull);
  return [
    variant.name,
    pick("sent"),
    pick("roundTrips"),
    pick("scripts"),
    pick("executed"),
    pick("writerUs"),
    pick("readerCommands"),
    pick("readerUs"),
    median(cpu),
    `${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}`,
    Number.isNaN(ratio) ? "" : `${(ratio * 100).toFixed(0)}%`,
    `${rounds[rounds.length - 1]?.detail ?? ""}. ${variant.note}`,
  ];
}

const BULL = 1;

export async function benchRedisWork(options: { redis: TestRedis; scale: Scale }): Promise<Table> {
  const n = options.scale.redisWrites;
  const rounds = options.scale.redisRounds;
  const perRound = Math.max(1, Math.floor(n / rounds));
  const admin = await connect(options.redis);
  const variants: Variant[] = [];
  const results: Round[][] = [];
  try {
    // BULL is the index of BullMQ's variant: the others are compared with it.
    for (const make of [
      () => trackerVariant(options.redis),
      () => bullVariant(options.redis),
      () => handRolledVariant(options.redis, true),
      () => handRolledVariant(options.redis, false),
    ]) {
      const variant = await make();
      variants.push(variant);
      results.push([]);
      await warmUp(variant);
    }
    // Interleaved rounds: whatever else the machine does at a given moment
    // weighs on every variant alike, and the median drops the odd round.
    for (let round = 0; round < rounds; round++) {
      for (const [k, variant] of variants.entries()) {
        results[k]?.push(await measureRound(admin, variant, perRound));
      }
    }
  } finally {
    for (const variant of variants) await variant.close();
    admin.disconnect();
  }
  return {
    title: "Redis work per flushed update",
    columns: [
      "variant",
      "commands sent",
      "round trips",
      "script calls",
      "commands run in Redis (incl. scripts)",
      "Redis µs (writer's commands)",
      "reader commands",
      "Redis µs (reader's commands)",
      "Redis CPU µs (INFO cpu, all)",
      "CPU µs, min–max of rounds",
      "CPU vs BullMQ (median of per-round ratios)",
      "per command, and what it does",
    ],
    rows: variants.map((variant, k) => row(variant, results[k] ?? [], results[BULL] ?? [])),
    notes: [
      `Per update: ${rounds} rounds of ${perRound.toLocaleString("en-US")} sequential updates ` +
        "(each awaited) per variant, the variants taking turns round by round, after 20 " +
        "warm-up updates each; one local redis-server, CONFIG RESETSTAT before each round; the " +
        "median round is shown, and each variant's CPU against BullMQ's in the round run just " +
        "before or after it (the median of those ratios). Round trips are counted on the client socket (writes separated " +
        "by a reply). Redis µs come from INFO commandstats (a script's time includes the " +
        "commands it runs); Redis CPU from INFO cpu covers everything Redis did, including " +
        "socket I/O and delivering the message to the reader. Target: 1 round trip, 1 script " +
        "call, less Redis CPU per update than BullMQ.",
    ],
  };
}
