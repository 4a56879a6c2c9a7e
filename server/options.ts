/** Options of `createGateway`, with their defaults and why each is what it is. */
import type { Server as HttpServer } from "node:http";
import type { BaseLogger } from "pino";
import type { RedisOption } from "../shared/tracker/connection";

/**
 * Per-socket limits. Subscribes are metered by a token bucket: a socket may
 * send `subscribeBurst` (20) at once, then `subscribeRate` (5) per second, and
 * one beyond that is answered with `rate_limited`, as is one that would watch
 * more than `maxScopesPerSocket` scopes. A socket past `maxBufferedBytes` is
 * disconnected.
 */
export interface LimitOptions {
  /**
   * Subscribes a socket may send in a burst (the token bucket's size).
   * @default 20
   */
  subscribeBurst: number;
  /**
   * Subscribes per second a socket regains after a burst (the bucket's refill rate).
   * @default 5
   */
  subscribeRate: number;
  /**
   * Scopes one socket may watch at once.
   * @default 100
   */
  maxScopesPerSocket: number;
  /**
   * Bytes a socket may hold unsent (a client that does not read what it is
   * sent); past them it is disconnected, checked once a second. The SDK
   * reconnects and resubscribes, and the snapshots bring it up to date.
   * @default 4194304 (4 MiB)
   */
  maxBufferedBytes: number;
}

/** Options of the simulated workers started in demo mode. */
export interface DemoOptions {
  /**
   * Scopes the simulated workers write to.
   * @default ["user:1", "user:2", "user:3"]
   */
  scopes?: readonly string[];
  /**
   * The trackers' write interval in ms (the library's default is 2000; the demo is livelier).
   * @default 250
   */
  interval?: number;
  /**
   * Lifetime of a token minted by `GET /demo/token`, in seconds.
   * @default 900
   */
  tokenTtl?: number;
}

export interface GatewayOptions {
  /**
   * The HS256 key that verifies client tokens (at least 32 bytes). Mint tokens
   * with `signScopeToken` using the same secret.
   */
  secret: string | Uint8Array;
  /**
   * An ioredis client (standalone or Cluster), a `redis://` URL, or Redis
   * Cluster seeds (an array of URLs, or one string of comma-separated URLs). A
   * client you pass stays yours: the gateway uses it for reads and its own
   * pub/sub connections (a `duplicate()`; with a Cluster, one per master that
   * owns a watched scope), and closes only those. For URLs it opens and closes
   * every connection itself. A client's ioredis `keyPrefix` applies as for the
   * workers' (give both the same options): reads, cancels and subscriptions
   * all use the prefixed key names.
   * @default REDIS_CLUSTER_NODES (host:port,...) when set, else process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
   */
  redis?: RedisOption;
  /**
   * Key prefix, the same as the workers'.
   * @default "resque:pace"
   */
  prefix?: string;
  /**
   * Origins (`https://app.example.com`) allowed to connect besides the
   * gateway's own; `"*"` allows any. Browsers without an `Origin` header
   * (same-origin GETs) and non-browser clients are always allowed: tokens,
   * not origins, are the authentication.
   * @default []
   */
  allowedOrigins?: readonly string[];
  /**
   * After an update goes out to a scope's room, further updates within this
   * many ms are merged (latest per job) into one `progress` event.
   * @default 50
   */
  coalesceWindow?: number;
  /** Per-socket limits (see LimitOptions for each default). */
  limits?: Partial<LimitOptions>;
  /**
   * Largest message a client may send, in bytes. Clients only send small
   * subscribe requests and, in the CONNECT packet, a token of up to 8192
   * characters; a small cap bounds memory per socket. A packet above it closes
   * the connection without a `connect_error`: keep it above the longest token
   * your backend mints.
   * @default 16384
   */
  maxHttpBufferSize?: number;
  /**
   * A pino logger (or anything with pino's methods). Tokens are never logged.
   * @default pino at level "warn"
   */
  logger?: BaseLogger;
  /**
   * Demo mode: simulated workers and a loopback-only `GET /demo/token`.
   * Never enable it in production.
   * @default false
   */
  demo?: boolean | DemoOptions;
  /**
   * An http(s) server of yours to attach Socket.IO to. Without it the gateway
   * creates its own server (serving `gateway.app`) and `listen()` starts it.
   * With it, mount `gateway.router` on your express app for the HTTP routes.
   */
  server?: HttpServer;
  /**
   * Socket.IO's path.
   * @default "/socket.io"
   */
  path?: string;
  /**
   * Seconds of clock skew tolerated when checking a token's `exp` (and `nbf`).
   * @default 5
   */
  clockTolerance?: number;
  /**
   * How long a Redis operation a client waits on (subscribe, snapshot, health
   * check) may take before it counts as failed (`unavailable`), in ms.
   * @default 5000
   */
  redisTimeout?: number;
  /**
   * How often the gateway PINGs its own Redis connections (the pub/sub one, and
   * the command one it opened for a URL), in ms. One that does not answer within
   * `redisTimeout` is dropped and reconnected: a frozen or partitioned server
   * keeps its sockets open, and an idle pub/sub connection would wait on it
   * forever. 0 turns the check off.
   * @default 5000
   */
  healthCheckInterval?: number;
}

/** Defaults, with why each is what it is. */
export const DEFAULTS = {
  // Short enough to be invisible to a human, long enough to batch a burst of writes.
  coalesceWindow: 50,
  // A subscribe request is well under 1 KB; a token may be MAX_TOKEN_LENGTH (8192)
  // characters, and travels in the CONNECT packet: twice that leaves room for the
  // framing and a few requests batched in one polling POST, and keeps an
  // attacker's per-message memory small.
  maxHttpBufferSize: 16 * 1024,
  path: "/socket.io",
  // Servers' clocks drift by seconds, not minutes.
  clockTolerance: 5,
  // Matches the tracker's write timeout: past it, Redis is not coming back soon.
  redisTimeout: 5000,
  // A dead connection is found within 5 s + redisTimeout, for one PING per 5 s.
  healthCheckInterval: 5000,
  limits: {
    // A dashboard opening a page of widgets subscribes to a handful at once.
    subscribeBurst: 20,
    subscribeRate: 5,
    // DESIGN.md promises at least 50 scopes per socket.
    maxScopesPerSocket: 100,
    // Redis's own pub/sub clients get 8 MB for a minute, 32 at most; a second
    // of a socket's 100 busiest scopes is far below this.
    maxBufferedBytes: 4 * 1024 * 1024,
  } satisfies LimitOptions,
  demo: {
    scopes: ["user:1", "user:2", "user:3"],
    interval: 250,
    tokenTtl: 900,
  } satisfies Required<DemoOptions>,
} as const;

/** Secrets shorter than this are refused: HS256 wants a key of at least 256 bits. */
export const MIN_SECRET_BYTES = 32;
