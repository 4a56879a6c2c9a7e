/**
 * The gateway's pub/sub over Redis Cluster: sharded pub/sub (SSUBSCRIBE), with
 * one connection per master that owns a watched scope's slot, routed by the
 * slot map of the gateway's command Cluster.
 *
 * Why not ioredis' own `shardedSubscribers`: it resubscribes behind our back
 * and swallows failures, so the gateway could not know when to re-read a
 * scope's snapshot, nor that the SSUBSCRIBE was confirmed before the read
 * (DESIGN.md: subscribe first, then read). Here every loss is reported as
 * `dropped` for exactly the channels it affects, and Subscriptions
 * resubscribes and re-reads them (clients get a `snapshot`).
 *
 * A shard's channels are dropped when:
 * - its connection closes (node killed or restarted, network) once it had
 *   connected: links never reconnect by themselves, a new one goes to whoever
 *   owns the slot then (a link that never connected subscribed nothing: its
 *   SSUBSCRIBE fails instead, and the subscribe's caller retries);
 * - the node unsubscribes them itself (Redis sends `sunsubscribe` when a slot
 *   moves or a master is demoted by a failover): ioredis reports that push as
 *   a "Command queue state error", and any error on a link closes it;
 * - a slot-map refresh of the command Cluster (after MOVED, and every
 *   `slotsRefreshInterval`) shows another owner: the backstop for a push that
 *   ioredis mistook for the reply to a command in flight.
 */
import { Redis, type Cluster, type RedisOptions } from "ioredis";
import { Emitter } from "../shared/emitter";
import { withTimeout } from "../shared/tracker/timing";
import { keySlot } from "./cluster-slot";
import { readRepliesDirectly } from "./direct-replies";
import { PartialSubscribeError } from "./errors/partial-subscribe-error";
import { UnavailableError } from "./errors/unavailable-error";
import type { HealthCheckTarget } from "./health-check";
import { ReadyWaiter } from "./ready-waiter";
import type { PubSub, SubscriberEvents } from "./subscriber";

/** A pub/sub connection to one node and the channels subscribed through it. */
interface Link {
  readonly key: string;
  readonly redis: Redis;
  readonly channels: Set<string>;
  /** Channels not ours with a SUNSUBSCRIBE sent for them and not yet answered. */
  readonly leaving: Set<string>;
  /** Whether it ever connected: a link that never did held no subscription to lose. */
  wasReady: boolean;
}

/** Options a link forces over the Cluster's node options, and why. */
const LINK_OPTIONS: Partial<RedisOptions> = {
  // A closed link is replaced by a new one to the slot's owner at that time.
  retryStrategy: () => null,
  autoResubscribe: false,
  autoResendUnfulfilledCommands: false,
  // The first SSUBSCRIBE is sent while the link connects; our timeout bounds it.
  enableOfflineQueue: true,
  lazyConnect: false,
  maxRetriesPerRequest: null,
  // Subscriptions names channels in full, the command Cluster's keyPrefix
  // included; ioredis would prefix SSUBSCRIBE's channels a second time.
  keyPrefix: undefined,
};

/** A link that can still send: connected, or connecting with an offline queue. */
function isOpen(link: Link): boolean {
  const status = link.redis.status;
  return status !== "end" && status !== "close";
}

/** `host:port` (ioredis' node key) → host and port; IPv6 hosts contain colons. */
function splitNodeKey(key: string): { host: string; port: number } {
  const at = key.lastIndexOf(":");
  return { host: key.slice(0, at), port: Number(key.slice(at + 1)) };
}

export class ClusterSubscriber extends Emitter<SubscriberEvents> implements PubSub {
  readonly #cluster: Cluster;
  readonly #timeout: number;
  /** By node key. */
  readonly #links = new Map<string, Link>();
  readonly #detach: (() => void)[] = [];
  readonly #ready: ReadyWaiter;
  #closed = false;

  /**
   * @param cluster the gateway's command Cluster: its slot map routes subscriptions.
   *   It stays the caller's; close() only removes our listeners from it.
   * @param timeout ms a (un)subscribe may take before it counts as failed.
   */
  constructor(cluster: Cluster, timeout: number) {
    super();
    this.#cluster = cluster;
    this.#timeout = timeout;
    this.#ready = new ReadyWaiter(cluster, () => this.ready, timeout, "Redis Cluster");
    const onRefresh = () => this.#verify();
    cluster.on("refresh", onRefresh);
    this.#detach.push(() => cluster.off("refresh", onRefresh));
  }

  /** True when the command Cluster is connected (links are opened on demand). */
  get ready(): boolean {
    return this.#cluster.status === "ready";
  }

  /** The shard links open now, for the health check (named `pubsub <host:port>`). */
  links(): HealthCheckTarget[] {
    return [...this.#links.values()].map((link) => ({
      name: `pubsub ${link.key}`,
      client: link.redis,
    }));
  }

  /**
   * Subscribes to `channels`: one SSUBSCRIBE per slot, on the slot's master.
   * Shards fail alone: when some slots' SSUBSCRIBE failed (no owner, a node
   * down), the others are subscribed and a PartialSubscribeError names the
   * channels that are not (with a single slot, the failure itself is thrown).
   */
  async subscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    if (this.#closed) throw new UnavailableError("The gateway is closing");
    await this.#ready.wait();
    // Closed meanwhile: a link opened now would outlive the gateway.
    if (this.#closed) throw new UnavailableError("The gateway is closing");
    const bySlot = new Map<number, string[]>();
    for (const channel of channels) {
      const slot = keySlot(channel);
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [channel]);
      else group.push(channel);
    }
    const sends = [...bySlot].map(async ([slot, group]) => {
      const link = this.#linkFor(slot);
      for (const channel of group) {
        // A channel moves with its slot: forget it on any other link.
        for (const other of this.#links.values())
          if (other !== link) other.channels.delete(channel);
        link.channels.add(channel);
      }
      await withTimeout(
        link.redis.ssubscribe(...group),
        this.#timeout,
        "SSUBSCRIBE",
        "redisTimeout",
      );
    });
    const results = await Promise.allSettled(sends);
    const groups = [...bySlot.values()];
    const failed: string[] = [];
    let first: unknown;
    results.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      first ??= result.reason;
      failed.push(...(groups[i] ?? []));
    });
    if (failed.length === 0) return;
    if (failed.length === channels.length) throw first;
    throw new PartialSubscribeError(
      `SSUBSCRIBE failed for ${failed.length} of ${channels.length} channels: ${first instanceof Error ? first.message : String(first)}`,
      failed,
      { cause: first },
    );
  }

  /** Unsubscribes where each channel is subscribed; a no-op for a link that is gone. */
  async unsubscribe(channels: readonly string[]): Promise<void> {
    const byLink = new Map<Link, string[]>();
    for (const channel of channels) {
      for (const link of this.#links.values()) {
        if (!link.channels.delete(channel)) continue;
        const group = byLink.get(link);
        if (group === undefined) byLink.set(link, [channel]);
        else group.push(channel);
      }
    }
    const sends: Promise<unknown>[] = [];
    for (const [link, group] of byLink) {
      // A link still connecting has our SSUBSCRIBE in its offline queue (its
      // subscribe may have timed out on a slow node): the SUNSUBSCRIBE queues
      // behind it, or the channel would stay subscribed with nobody watching.
      if (!isOpen(link)) continue;
      // SUNSUBSCRIBE takes channels of one slot at a time.
      for (const channel of group) sends.push(link.redis.sunsubscribe(channel));
    }
    if (sends.length > 0)
      await withTimeout(Promise.all(sends), this.#timeout, "SUNSUBSCRIBE", "redisTimeout");
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#ready.close();
    for (const detach of this.#detach) detach();
    const links = [...this.#links.values()];
    this.#links.clear();
    // Subscriptions end with the connection: no QUIT, which a frozen or
    // unreachable node would never answer.
    for (const link of links) link.redis.disconnect();
  }

  /** The link to the master of `slot`, opened if needed. */
  #linkFor(slot: number): Link {
    const key = this.#cluster.slots[slot]?.[0];
    if (key === undefined) {
      this.#cluster.refreshSlotsCache();
      throw new UnavailableError(`No Redis Cluster node owns slot ${slot} yet`);
    }
    const existing = this.#links.get(key);
    if (existing !== undefined) return existing;
    const redis = new Redis({
      ...this.#cluster.options.redisOptions,
      ...splitNodeKey(key),
      ...LINK_OPTIONS,
      connectTimeout: this.#timeout,
    });
    readRepliesDirectly(redis);
    const link: Link = { key, redis, channels: new Set(), leaving: new Set(), wasReady: false };
    this.#links.set(key, link);
    redis.once("ready", () => {
      link.wasReady = true;
    });
    redis.on("smessage", (channel: string, message: string) => {
      if (link.channels.has(channel)) {
        this.emit("message", channel, message);
        return;
      }
      // Subscribed here, yet not ours (any more): a late SSUBSCRIBE, or a slot
      // that moved. Every channel we want is in `channels` before its SSUBSCRIBE
      // is sent, so this one is let go (its scope, if watched, was resynced):
      // once, however many messages arrive before Redis has done it.
      if (link.leaving.has(channel)) return;
      link.leaving.add(channel);
      const done = () => link.leaving.delete(channel);
      redis.sunsubscribe(channel).then(done, done);
    });
    redis.on("error", (error: Error) => {
      // Connection errors end the link anyway; any other error on a pub/sub
      // connection (a server-sent sunsubscribe that ioredis reports as a queue
      // state error) means we no longer know what it is subscribed to.
      redis.disconnect();
      if (!this.#closed) this.emit("error", error);
    });
    // ioredis emits "moved" for a MOVED reply to SSUBSCRIBE and leaves the command
    // pending: closing the link rejects it, and the refresh finds the new owner.
    redis.on("moved", () => redis.disconnect());
    redis.on("end", () => this.#lost(link));
    return link;
  }

  /** A link closed: its channels are no longer subscribed anywhere. */
  #lost(link: Link): void {
    if (this.#links.get(link.key) === link) this.#links.delete(link.key);
    const channels = [...link.channels];
    link.channels.clear();
    if (this.#closed) return;
    // The node may be gone for good (failover): learn who owns its slots now.
    this.#cluster.refreshSlotsCache();
    // A link that never connected subscribed nothing: its SSUBSCRIBE failed,
    // and the subscribe's own retry (after a delay) handles its channels.
    // Reporting them dropped too made a resubscribe to a dead master, until its
    // failover, loop as fast as connections were refused.
    if (link.wasReady && channels.length > 0) this.emit("dropped", channels);
  }

  /** After a slot-map refresh: channels whose slot has another master now are dropped. */
  #verify(): void {
    if (this.#closed) return;
    const moved: string[] = [];
    for (const link of this.#links.values()) {
      const stale = [...link.channels].filter(
        (channel) => this.#cluster.slots[keySlot(channel)]?.[0] !== link.key,
      );
      for (const channel of stale) {
        link.channels.delete(channel);
        if (isOpen(link)) link.redis.sunsubscribe(channel).catch(() => {});
      }
      moved.push(...stale);
    }
    if (moved.length > 0) this.emit("dropped", moved);
  }
}
