/**
 * Redis work per flushed update (issue item 2): commands and round trips per
 * update counted on the client, commands run inside Redis (scripts included)
 * and Redis time from `INFO commandstats` after CONFIG RESETSTAT, and Redis's
 * own CPU from `INFO cpu`. Each variant has its reader attached, as in
 * production: a SUBSCRIBE connection (what the gateway holds) for ours and
 * the hand-rolled one, a QueueEvents consumer for BullMQ (its XREADs are
 * counted as the reader's work).
 */
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { scopeKeys, DEFAULT_PREFIX } from "../shared/keys";
import { RedisProgress } from "../shared/tracker/redis-progress";
import type { TestRedis } from "../test/helpers/redis-server";
import { median, type Cell, type Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { commandStats, isOverhead, redisCpuUs, WireCounter, type CommandStat } from "./lib/wire";

interface Variant {
  name: string;
  note: string;
  /** Sends one update and resolves when it is stored. */
  update(i: number): Promise<void>;
  /** Resolves once the reader has seen `n` updates since reset (bounded). */
  drained(n: number): Promise<void>;
  writer: WireCounter;
  reader?: WireCounter;
  /** Updates the reader must have seen since the variant's baseline (warm-up included). */
  drainedBase: number;
  close(): Promise<void>;
}

function connect(redis: TestRedis): Promise<Redis> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  return new Promise((resolve, reject) => {
    client.once("ready", () => resolve(client));
    client.once("error", reject);
  });
}

async function waitUntil(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("the reader did not see every update");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A SUBSCRIBE connection on `channel` counting its messages. */
async function subscriber(
  redis: TestRedis,
  channel: string,
): Promise<{ seen: () => number; close: () => void }> {
  const client = await connect(redis);
  let seen = 0;
  client.on("message", () => (seen += 1));
  await client.subscribe(channel);
  return { seen: () => seen, close: () => client.disconnect() };
}

async function trackerVariant(redis: TestRedis): Promise<Variant> {
  const client = await connect(redis);
  const scope = "bench:work";
  const sub = await subscriber(redis, scopeKeys(DEFAULT_PREFIX, scope, false).channel);
  const pace = await RedisProgress.start({
    redis: client,
    scope,
    total: 1_000_000,
    interval: 3_600_000,
    heartbeat: 3_600_000,
  });
  await waitUntil(() => sub.seen() >= 1);
  const base = sub.seen();
  const writer = new WireCounter().attach(client);
  return {
    name: "redis-progress write",
    note: "1 EVALSHA (write-4.lua): value, seq, rate/ETA, retention, PUBLISH",
    writer,
    drainedBase: 0,
    async update() {
      pace.tick();
      await pace.flush();
    },
    drained: (n) => waitUntil(() => sub.seen() - base >= n),
    async close() {
      await pace.finish();
      sub.close();
      client.disconnect();
    },
  };
}

async function bullVariant(redis: TestRedis): Promise<Variant> {
  const url = new URL(redis.url);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const queue = new Queue("bench-work", { connection });
  const events = new QueueEvents("bench-work", { connection });
  await events.waitUntilReady();
  let seen = 0;
  events.on("progress", () => (seen += 1));
  const job = await queue.add("bench", { scope: "bench:work" });
  // The consumer's first XREAD reads from "$": updates sent before it blocks are
  // never seen. Prime until one arrives.
  for (let i = 0; i < 200 && seen === 0; i++) {
    await job.updateProgress({ percent: 0 });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await waitUntil(() => seen >= 1);
  const base = seen;
  const writer = new WireCounter().attach((await queue.client) as unknown as Redis);
  const reader = new WireCounter().attach((await events.client) as unknown as Redis);
  return {
    name: "BullMQ job.updateProgress",
    note: "1 EVALSHA (updateProgress-3.lua): HSET + XADD; QueueEvents XREADs the stream",
    writer,
    reader,
    drainedBase: 0,
    async update(i) {
      await job.updateProgress({ percent: i % 100 });
    },
    drained: (n) => waitUntil(() => seen - base >= n),
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

async function handRolledVariant(redis: TestRedis, pipelined: boolean): Promise<Variant> {
  const client = await connect(redis);
  const key = "bench:hand:user:1";
  const sub = await subscriber(redis, key);
  const writer = new WireCounter().attach(client);
  const base = sub.seen();
  const value = (i: number) =>
    JSON.stringify({ id: "job-1", percent: i % 100, count: i, total: 1_000_000 });
  return {
    name: pipelined ? "hand-rolled HSET+PUBLISH, pipelined" : "hand-rolled HSET, then PUBLISH",
    note: pipelined
      ? "no seq, no retention, no ETA; one pipeline"
      : "no seq, no retention, no ETA; each command awaited",
    writer,
    drainedBase: 0,
    async update(i) {
      const json = value(i);
      if (pipelined) {
        await client.pipeline().hset(key, "job-1", json).publish(key, json).exec();
      } else {
        await client.hset(key, "job-1", json);
        await client.publish(key, json);
      }
    },
    drained: (n) => waitUntil(() => sub.seen() - base >= n),
    async close() {
      sub.close();
      client.disconnect();
    },
  };
}

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

async function warmUp(variant: Variant): Promise<void> {
  // Script loaded (NOSCRIPT handled), connections settled.
  for (let i = 0; i < 20; i++) await variant.update(i);
  await variant.drained(20);
  variant.drainedBase = 20;
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
