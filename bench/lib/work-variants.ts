/**
 * The update paths the Redis benches drive, each with its reader attached as in
 * production: our tracker (with a SUBSCRIBE connection, what the gateway
 * holds), BullMQ's updateProgress (with a QueueEvents consumer) and hand-rolled
 * HSET + PUBLISH (with a SUBSCRIBE connection).
 */
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { scopeKeys, DEFAULT_PREFIX } from "../../shared/keys";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { WireCounter } from "./wire";

/** Where the variants connect: a redis-server's URL. */
export interface RedisTarget {
  url: string;
}

export interface Variant {
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

export function connect(redis: RedisTarget): Promise<Redis> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  return new Promise((resolve, reject) => {
    client.once("ready", () => resolve(client));
    client.once("error", reject);
  });
}

export async function waitUntil(check: () => boolean, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("the reader did not see every update");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A SUBSCRIBE connection on `channel` counting its messages. */
async function subscriber(
  redis: RedisTarget,
  channel: string,
): Promise<{ seen: () => number; close: () => void }> {
  const client = await connect(redis);
  let seen = 0;
  client.on("message", () => (seen += 1));
  await client.subscribe(channel);
  return { seen: () => seen, close: () => client.disconnect() };
}

export async function trackerVariant(redis: RedisTarget): Promise<Variant> {
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
    note: "1 EVALSHA (write-6.lua): a prebuilt value checked, stored and published",
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

export async function bullVariant(redis: RedisTarget): Promise<Variant> {
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

export async function handRolledVariant(redis: RedisTarget, pipelined: boolean): Promise<Variant> {
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

/** Loads the script (NOSCRIPT handled) and settles the connections: 20 updates, all read. */
export async function warmUp(variant: Variant): Promise<void> {
  for (let i = 0; i < 20; i++) await variant.update(i);
  await variant.drained(20);
  variant.drainedBase = 20;
}
