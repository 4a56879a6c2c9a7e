/**
 * Reference-counted scope subscriptions over one pub/sub connection.
 *
 * For a scope's first local watcher: SUBSCRIBE, wait for the confirmation,
 * then read the snapshot; messages that arrive meanwhile are buffered and
 * merged after it by `seq`, so an update that raced with the read is neither
 * lost nor allowed to move a job backwards. Later watchers get the held state
 * at once (or share the read in flight). The last watcher leaving UNSUBSCRIBEs.
 *
 * When the pub/sub connection comes back after a drop, every live scope is
 * resubscribed and re-read the same way, and a `snapshot` event announces the
 * resynchronised state. In cluster mode a shard can lose its channels alone
 * (node down, failover, slot moved): only those are resubscribed and re-read.
 */
import { Emitter } from "../shared/emitter";
import type { JobMap, JobPatch } from "../shared/job";
import { visibleJobs } from "../shared/job";
import { scopeKeys } from "../shared/keys";
import { JobStore } from "../shared/store";
import { withTimeout } from "../shared/tracker/timing";
import { PartialSubscribeError } from "./errors/partial-subscribe-error";
import { UnavailableError } from "./errors/unavailable-error";
import { ExpiryTimer, isExpired } from "./expiry";
import { emptyMap, parseMessage, type ReadResult } from "./reader";
import type { PubSub } from "./subscriber";

export interface SubscriptionsEvents {
  /**
   * Changes that passed the `seq` filter (`null` = removed), for a live scope;
   * `text` is the pub/sub message as received when it is exactly
   * `{ scope, jobs: patch }` (every entry a job, and each one new).
   */
  update: (scope: string, patch: JobPatch, text?: string) => void;
  /** A live scope was re-read after a resync; `jobs` is its full state. */
  snapshot: (scope: string, jobs: JobMap) => void;
  /** A pub/sub message arrived for a watched scope. */
  received: (scope: string) => void;
  /** Values that are not jobs were skipped. */
  garbage: (scope: string, count: number, where: "snapshot" | "message") => void;
  /** A resubscribe or re-read failed; it is retried. */
  error: (error: Error) => void;
}

export interface SubscriptionsOptions {
  subscriber: PubSub;
  /** Reads a scope's snapshot (see readJobs). */
  read: (scope: string) => Promise<ReadResult>;
  prefix: string;
  /**
   * The command client's ioredis `keyPrefix` ("" for none). ioredis prefixes a
   * script's KEYS, and the scripts publish on KEYS[1]: Redis's channel is
   * `keyPrefix` + the hash key's name, and that is what is subscribed.
   */
  keyPrefix: string;
  cluster: boolean;
  /** ms a snapshot read may take. */
  timeout: number;
  /** ms to wait before retrying a failed resync. */
  retryDelay?: number;
}

class Entry {
  refs = 0;
  readonly store = new JobStore();
  /** Messages received while a snapshot read is pending, merged latest-wins; null when live. */
  buffer: JobPatch | null = emptyMap();
  /** True once the first snapshot is held. */
  live = false;
  ready: Promise<void> = Promise.resolve();
  syncing: Promise<void> | null = null;
  /** A newer read was asked for while one was in flight. */
  again = false;
  retry: NodeJS.Timeout | undefined;
  /** Due when the first held job reaches its retention (see expiry.ts). */
  readonly expiry: ExpiryTimer;

  constructor(
    readonly scope: string,
    readonly channel: string,
    onExpiry: (entry: Entry) => void,
  ) {
    this.expiry = new ExpiryTimer(() => onExpiry(this));
  }
}

export class Subscriptions extends Emitter<SubscriptionsEvents> {
  readonly #subscriber: PubSub;
  readonly #read: (scope: string) => Promise<ReadResult>;
  readonly #prefix: string;
  readonly #keyPrefix: string;
  readonly #cluster: boolean;
  readonly #timeout: number;
  readonly #retryDelay: number;
  /** By channel name, as Redis publishes it (with the keyPrefix). */
  readonly #entries = new Map<string, Entry>();
  /** Channels we are unsubscribing from because a message came for no watched scope. */
  readonly #healing = new Set<string>();
  /** Channels of live scopes to subscribe again (and re-read). */
  readonly #lost = new Set<string>();
  #resubscribe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SubscriptionsOptions) {
    super();
    this.#subscriber = options.subscriber;
    this.#read = options.read;
    this.#prefix = options.prefix;
    this.#keyPrefix = options.keyPrefix;
    this.#cluster = options.cluster;
    this.#timeout = options.timeout;
    this.#retryDelay = options.retryDelay ?? 1000;
    this.#subscriber.on("message", (channel, message) => this.#onMessage(channel, message));
    this.#subscriber.on("reconnected", () => this.#resubscribeLost([...this.#entries.keys()]));
    this.#subscriber.on("dropped", (channels) => this.#resubscribeLost(channels));
  }

  /** Number of scopes this gateway is subscribed to. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the scope is subscribed and its snapshot held. */
  isLive(scope: string): boolean {
    return this.#entries.get(this.#channel(scope))?.live === true;
  }

  /**
   * Adds a watcher of `scope` (which must be validated) and resolves once the
   * scope's state is held; read it with `jobs(scope)` in the same tick.
   * Every successful acquire must be paired with a release.
   * @throws UnavailableError when Redis did not answer (the watcher is not counted).
   */
  async acquire(scope: string): Promise<void> {
    if (this.#closed) throw new UnavailableError("The gateway is closing");
    const channel = this.#channel(scope);
    let entry = this.#entries.get(channel);
    if (entry === undefined) {
      const created = new Entry(scope, channel, (e) => this.#expire(e));
      created.ready = this.#subscriber
        .subscribe([channel])
        .then(() => this.#requestSync(created))
        .catch((error: unknown) => {
          this.#drop(created);
          throw error;
        });
      this.#entries.set(channel, created);
      entry = created;
    }
    entry.refs += 1;
    try {
      await entry.ready;
    } catch (error) {
      throw error instanceof UnavailableError
        ? error
        : new UnavailableError("Redis did not answer", { cause: error });
    }
  }

  /** Removes a watcher; the last one out unsubscribes. */
  release(scope: string): void {
    const entry = this.#entries.get(this.#channel(scope));
    if (entry === undefined) return;
    entry.refs -= 1;
    if (entry.refs <= 0) this.#drop(entry);
  }

  /** The held jobs of a live scope, with `stalled` marked; undefined when not live. */
  jobs(scope: string): JobMap | undefined {
    const entry = this.#entries.get(this.#channel(scope));
    return entry?.live ? this.#jobsOf(entry) : undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#resubscribe);
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.retry);
      entry.expiry.clear();
    }
    this.#entries.clear();
  }

  /**
   * The channel as Redis publishes it. In cluster mode its slot is the hash
   * key's (the write script's SPUBLISH goes to the node that ran it): the
   * scope's hash tag, or a hash tag in the keyPrefix, which comes first.
   */
  #channel(scope: string): string {
    return this.#keyPrefix + scopeKeys(this.#prefix, scope, this.#cluster).channel;
  }

  #jobsOf(entry: Entry): JobMap {
    // Past retention (its timer is due): a fresh read would not return it either.
    return visibleJobs(Object.entries(entry.store.toJSON()), Date.now());
  }

  /** Drops held jobs that reached their retention and tells the scope's clients (`null`). */
  #expire(entry: Entry): void {
    // A snapshot read in flight re-arms the timer for what it brings.
    if (this.#entries.get(entry.channel) !== entry || entry.buffer !== null) return;
    const now = Date.now();
    const gone = emptyMap<null>();
    let any = false;
    for (const [id, value] of Object.entries(entry.store.toJSON())) {
      if (isExpired(value, now)) {
        gone[id] = null;
        any = true;
      }
    }
    if (any) entry.store.apply(gone);
    entry.expiry.reset(Object.values(entry.store.toJSON()));
    if (any) this.emit("update", entry.scope, gone);
  }

  #drop(entry: Entry): void {
    if (this.#entries.get(entry.channel) !== entry) return;
    this.#entries.delete(entry.channel);
    clearTimeout(entry.retry);
    entry.expiry.clear();
    if (this.#closed) return;
    this.#subscriber.unsubscribe([entry.channel]).catch((error: unknown) => {
      // The connection dropped: the new one will not have this channel.
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Reads the snapshot; a request during a read in flight makes it read again after. */
  #requestSync(entry: Entry): Promise<void> {
    if (entry.syncing !== null) {
      entry.again = true;
      return entry.syncing;
    }
    entry.buffer ??= emptyMap();
    const syncing = this.#sync(entry).finally(() => {
      if (entry.syncing === syncing) entry.syncing = null;
    });
    entry.syncing = syncing;
    return syncing;
  }

  async #sync(entry: Entry): Promise<void> {
    do {
      entry.again = false;
      const { jobs, garbage } = await withTimeout(
        this.#read(entry.scope),
        this.#timeout,
        "A snapshot read",
        "redisTimeout",
      );
      if (garbage.length > 0) this.emit("garbage", entry.scope, garbage.length, "snapshot");
      if (this.#entries.get(entry.channel) !== entry || entry.again) continue;
      entry.store.replace(jobs);
      const buffered = entry.buffer;
      entry.buffer = null;
      if (buffered !== null) entry.store.apply(buffered);
      entry.expiry.reset(Object.values(entry.store.toJSON()));
      const announce = entry.live;
      entry.live = true;
      if (announce) this.emit("snapshot", entry.scope, this.#jobsOf(entry));
    } while (entry.again && this.#entries.get(entry.channel) === entry);
  }

  #onMessage(channel: string, message: string): void {
    const entry = this.#entries.get(channel);
    if (entry === undefined) {
      this.#heal(channel);
      return;
    }
    const { patch, garbage, size, scope } = parseMessage(message);
    if (entry.buffer !== null) {
      // Messages of one channel arrive in publish order: the later value wins.
      Object.assign(entry.buffer, patch);
    } else {
      // The update goes out first (it is what the watchers wait for); the
      // bookkeeping below can follow it.
      const change = entry.store.applyChecked(patch);
      const updated = Object.values(change.updated);
      // The patch sent out: the newer values, and the removed ids as null.
      const out: JobPatch = change.updated;
      for (const id of change.removed) out[id] = null;
      const sent = updated.length + change.removed.length;
      if (sent > 0) {
        const whole = garbage === 0 && sent === size && scope === entry.scope;
        this.emit("update", entry.scope, out, whole ? message : undefined);
      }
      entry.expiry.watch(updated);
    }
    this.emit("received", entry.scope);
    if (garbage > 0) this.emit("garbage", entry.scope, garbage, "message");
  }

  /** A message for a channel nobody watches (a late SUBSCRIBE that timed out): unsubscribe it. */
  #heal(channel: string): void {
    if (this.#closed || this.#healing.has(channel)) return;
    this.#healing.add(channel);
    this.#subscriber
      .unsubscribe([channel])
      .catch(() => {})
      .finally(() => this.#healing.delete(channel));
  }

  /**
   * After a reconnect (every channel) or a lost shard (its channels): buffer,
   * SUBSCRIBE them in one call, then re-read each. Failures are retried; in
   * cluster mode only the channels whose shard failed (PartialSubscribeError):
   * a shard that is down must not hold the scopes of the others.
   */
  #resubscribeLost(channels: readonly string[] = []): void {
    clearTimeout(this.#resubscribe);
    this.#resubscribe = undefined;
    for (const channel of channels) if (this.#entries.has(channel)) this.#lost.add(channel);
    if (this.#closed || this.#lost.size === 0) return;
    const entries: Entry[] = [];
    for (const channel of this.#lost) {
      const entry = this.#entries.get(channel);
      if (entry !== undefined) entries.push(entry);
    }
    this.#lost.clear();
    for (const entry of entries) entry.buffer ??= emptyMap();
    this.#subscriber.subscribe(entries.map((e) => e.channel)).then(
      () => {
        for (const entry of entries) {
          if (this.#entries.get(entry.channel) === entry) this.#resync(entry);
        }
      },
      (error: unknown) => {
        this.emit("error", error instanceof Error ? error : new Error(String(error)));
        const failed = error instanceof PartialSubscribeError ? new Set(error.failed) : null;
        for (const entry of entries) {
          if (this.#entries.get(entry.channel) !== entry) continue;
          if (failed === null || failed.has(entry.channel)) this.#lost.add(entry.channel);
          else this.#resync(entry);
        }
        if (this.#closed) return;
        this.#resubscribe = setTimeout(() => this.#resubscribeLost(), this.#retryDelay);
        this.#resubscribe.unref();
      },
    );
  }

  #resync(entry: Entry): void {
    clearTimeout(entry.retry);
    entry.retry = undefined;
    this.#requestSync(entry).catch((error: unknown) => {
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
      if (this.#closed || this.#entries.get(entry.channel) !== entry) return;
      entry.retry = setTimeout(() => this.#resync(entry), this.#retryDelay);
      entry.retry.unref();
    });
  }
}
