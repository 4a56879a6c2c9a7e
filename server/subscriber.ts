/**
 * The gateway's one pub/sub connection. It hides SUBSCRIBE versus SSUBSCRIBE
 * (sharded pub/sub, for Redis Cluster) and reports when a dropped connection
 * came back, so that Subscriptions can resubscribe and re-read every scope.
 *
 * ioredis' own resubscription is off: after a reconnect the gateway must also
 * re-read snapshots, so it does both itself, in that order.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { Emitter } from "../shared/emitter";
import type { RedisClient } from "../shared/tracker/scripts";
import { withTimeout } from "../shared/tracker/timing";
import { UnavailableError } from "./errors/unavailable-error";

export interface SubscriberEvents {
  /** A message on a subscribed channel. */
  message: (channel: string, message: string) => void;
  /** The connection was lost and is back: nothing is subscribed on it yet. */
  reconnected: () => void;
  /** A connection error (ioredis keeps reconnecting). */
  error: (error: Error) => void;
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
};

/** Opens the subscriber connection: a duplicate of a given client, or a new one for a URL. */
export function openSubscriber(source: RedisClient | string): RedisClient {
  if (typeof source === "string") return new Redis(source, SUBSCRIBER_OPTIONS);
  if (source instanceof Cluster || (source as { isCluster?: boolean }).isCluster === true) {
    const cluster = source as Cluster;
    // Sharded subscribers follow slot ownership; node options carry the fail-fast settings.
    return cluster.duplicate(undefined, {
      shardedSubscribers: true,
      lazyConnect: false,
      redisOptions: { ...cluster.options.redisOptions, ...SUBSCRIBER_OPTIONS },
    });
  }
  return (source as Redis).duplicate(SUBSCRIBER_OPTIONS);
}

type PubSubCall = (...channels: string[]) => Promise<unknown>;

export class Subscriber extends Emitter<SubscriberEvents> {
  readonly #client: RedisClient;
  readonly #sharded: boolean;
  readonly #timeout: number;
  #lost = false;
  #closed = false;

  /**
   * @param client a connection dedicated to pub/sub (see openSubscriber); closed by close().
   * @param sharded use SSUBSCRIBE/SUNSUBSCRIBE (cluster mode).
   * @param timeout ms a (un)subscribe may take before it counts as failed.
   */
  constructor(client: RedisClient, sharded: boolean, timeout: number) {
    super();
    this.#client = client;
    this.#sharded = sharded;
    this.#timeout = timeout;
    client.on(sharded ? "smessage" : "message", (channel: string, message: string) =>
      this.emit("message", channel, message),
    );
    client.on("error", (error: Error) => this.emit("error", error));
    client.on("close", () => {
      if (!this.#closed) this.#lost = true;
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
    await this.#whenReady();
    await withTimeout(
      this.#call(this.#sharded ? "ssubscribe" : "subscribe", channels),
      this.#timeout,
      "SUBSCRIBE",
    );
  }

  /** Unsubscribes; a no-op while disconnected (a new connection starts with nothing subscribed). */
  async unsubscribe(channels: readonly string[]): Promise<void> {
    if (channels.length === 0 || !this.ready) return;
    await withTimeout(
      this.#call(this.#sharded ? "sunsubscribe" : "unsubscribe", channels),
      this.#timeout,
      "UNSUBSCRIBE",
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  #call(command: string, channels: readonly string[]): Promise<unknown> {
    const fn = (this.#client as unknown as Record<string, PubSubCall>)[command] as PubSubCall;
    return fn.apply(this.#client, [...channels]);
  }

  #whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.#closed) return Promise.reject(new UnavailableError("The gateway is closing"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#client.off("ready", onReady);
        reject(new UnavailableError(`Redis did not become ready within ${this.#timeout} ms`));
      }, this.#timeout);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#client.once("ready", onReady);
    });
  }
}
