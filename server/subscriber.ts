/**
 * The gateway's one pub/sub connection to a standalone Redis (Redis Cluster:
 * see cluster-subscriber.ts, same PubSub interface). It reports when a dropped
 * connection came back, so that Subscriptions can resubscribe and re-read
 * every scope.
 *
 * ioredis' own resubscription is off: after a reconnect the gateway must also
 * re-read snapshots, so it does both itself, in that order.
 */
import { Redis, type RedisOptions } from "ioredis";
import { readRepliesDirectly } from "./direct-replies";
import { Emitter } from "../shared/emitter";
import { withTimeout } from "../shared/tracker/timing";
import { UnavailableError } from "./errors/unavailable-error";
import { ReadyWaiter } from "./ready-waiter";

export interface SubscriberEvents {
  /** A message on a subscribed channel. */
  message: (channel: string, message: string) => void;
  /** The connection was lost and is back: nothing is subscribed on it yet. */
  reconnected: () => void;
  /** A connection error (ioredis keeps reconnecting). */
  error: (error: Error) => void;
  /**
   * These channels are no longer subscribed (cluster mode: their shard's
   * connection closed, or their slot moved to another node): subscribe them
   * again and re-read their scopes.
   */
  dropped: (channels: readonly string[]) => void;
}

/** What Subscriptions needs from the pub/sub side: Subscriber, or ClusterSubscriber. */
export interface PubSub {
  /** True when the connection is up. */
  readonly ready: boolean;
  /** Subscribes; resolves once Redis confirmed every channel. */
  subscribe(channels: readonly string[]): Promise<void>;
  unsubscribe(channels: readonly string[]): Promise<void>;
  close(): Promise<void>;
  on<E extends keyof SubscriberEvents>(event: E, listener: SubscriberEvents[E]): () => void;
}

/** Connection options for the subscriber: fail fast instead of queueing while disconnected. */
const SUBSCRIBER_OPTIONS: Partial<RedisOptions> = {
  autoResubscribe: false,
  // A SUBSCRIBE lost with the connection must fail (the caller answers
  // `unavailable`), not be replayed later for a scope nobody watches any more.
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
  maxRetriesPerRequest: null,
  // A duplicate inherits lazyConnect; this connection must be up before its first SUBSCRIBE.
  lazyConnect: false,
  // Subscriptions names channels in full, the client's keyPrefix included (ioredis
  // does not prefix SUBSCRIBE's channels, but would prefix SSUBSCRIBE's).
  keyPrefix: undefined,
};

/**
 * Opens the subscriber connection of a standalone Redis: a duplicate of a given
 * client, or a new one for a URL. (A Cluster gets a ClusterSubscriber instead.)
 */
export function openSubscriber(source: Redis | string): Redis {
  const client =
    typeof source === "string"
      ? new Redis(source, SUBSCRIBER_OPTIONS)
      : source.duplicate(SUBSCRIBER_OPTIONS);
  readRepliesDirectly(client);
  return client;
}

/** Pub/sub on one standalone connection (SUBSCRIBE). */
export class Subscriber extends Emitter<SubscriberEvents> implements PubSub {
  readonly #client: Redis;
  readonly #timeout: number;
  #lost = false;
  #closed = false;
  readonly #ready: ReadyWaiter;
  /** Rejecters of the (un)subscribes waiting for Redis's answer. */
  readonly #waiting = new Set<(error: Error) => void>();

  /**
   * @param client a connection dedicated to pub/sub (see openSubscriber); closed by close().
   * @param timeout ms a (un)subscribe may take before it counts as failed.
   */
  constructor(client: Redis, timeout: number) {
    super();
    this.#client = client;
    this.#timeout = timeout;
    this.#ready = new ReadyWaiter(client, () => this.ready, timeout, "Redis");
    client.on("message", (channel: string, message: string) =>
      this.emit("message", channel, message),
    );
    client.on("error", (error: Error) => this.emit("error", error));
    client.on("close", () => {
      if (!this.#closed) this.#lost = true;
      // ioredis drops the commands lost with the connection without settling
      // them (autoResendUnfulfilledCommands is off): fail them now, not after
      // `timeout`, while the reconnection may well be back before then.
      const waiting = [...this.#waiting];
      this.#waiting.clear();
      for (const fail of waiting) {
        fail(new UnavailableError("The pub/sub connection closed before Redis answered"));
      }
    });
    client.on("ready", () => {
      if (!this.#lost) return;
      this.#lost = false;
      this.emit("reconnected");
    });
  }

  /** True when the connection is up. */
  get ready(): boolean {
    return this.#client.status === "ready";
  }

  /** Subscribes to `channels`; waits up to `timeout` for the connection to be ready. */
  async subscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.#ready.wait();
    await withTimeout(
      this.#untilClosed(this.#client.subscribe(...channels)),
      this.#timeout,
      "SUBSCRIBE",
      "redisTimeout",
    );
  }

  /** Unsubscribes; a no-op while disconnected (a new connection starts with nothing subscribed). */
  async unsubscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0 || !this.ready) return;
    await withTimeout(
      this.#untilClosed(this.#client.unsubscribe(...channels)),
      this.#timeout,
      "UNSUBSCRIBE",
      "redisTimeout",
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#ready.close();
    // Subscriptions end with the connection: no QUIT, which a frozen or
    // unreachable server would never answer.
    this.#client.disconnect();
  }

  /** `command`, or its failure once the connection closes under it. */
  #untilClosed<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.add(reject);
      command.then(
        (value) => {
          this.#waiting.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.#waiting.delete(reject);
          reject(error);
        },
      );
    });
  }
}
