/**
 * The gateway: Socket.IO + express over one Redis command connection and one
 * pub/sub connection. See DESIGN.md ("Socket.IO protocol", "HTTP") for the
 * contracts it serves; the pieces live in their own files (auth, origin,
 * limits, subscriptions, fanout, http, metrics, demo).
 */
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express, type Router } from "express";
import type { Cluster, Redis } from "ioredis";
import pino, { type BaseLogger } from "pino";
import { Server as IoServer } from "socket.io";
import { InvalidArgumentError } from "../shared/errors/invalid-argument-error";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/events";
import { visibleJobs, type JobMap, type JobPatch } from "../shared/job";
import { DEFAULT_PREFIX, validatePrefix } from "../shared/keys";
import {
  defaultRedisSource,
  isCluster,
  isRedisClient,
  openClient,
} from "../shared/tracker/connection";
import type { RedisClient } from "../shared/tracker/scripts";
import { withTimeout } from "../shared/tracker/timing";
import { MAX_TOKEN_LENGTH, verifyToken } from "./auth";
import { CancelService } from "./cancel";
import { DemoWorkers, demoTokenRoute, resolveDemoOptions } from "./demo";
import { readClusterRepliesDirectly, readRepliesDirectly } from "./direct-replies";
import { Fanout } from "./fanout";
import { preencodedParser, withJsonText } from "./preencoded-parser";
import { HealthCheck, type HealthCheckTarget } from "./health-check";
import { createRouter } from "./http";
import { SubscribeLimits } from "./limits";
import { SlowConsumers } from "./slow-consumers";
import { GatewayMetrics } from "./metrics";
import { DEFAULTS, type GatewayOptions } from "./options";
import { OriginPolicy, guardPolling, guardUpgrades } from "./origin";
import { recordListeners } from "./server-listeners";
import { readJobs } from "./reader";
import { SocketHandlers, roomOf, type SocketData } from "./sockets";
import { ClusterSubscriber } from "./cluster-subscriber";
import { Subscriber, openSubscriber, type PubSub } from "./subscriber";
import { Subscriptions } from "./subscriptions";
import { checkSecret, signScopeToken } from "./tokens";

function positiveInt(name: string, value: unknown, allowZero = false): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a ${allowZero ? "non-negative" : "positive"} integer, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A running gateway. Standalone:
 *
 * ```ts
 * const gateway = createGateway({ secret, redis: "redis://127.0.0.1:6379" });
 * const { url } = await gateway.listen(3000);
 * // ...
 * await gateway.close();
 * ```
 *
 * Inside an application that has its own server and express app:
 *
 * ```ts
 * const server = http.createServer(app);
 * const gateway = createGateway({ secret, redis, server });
 * app.use(gateway.router);          // /healthz, /metrics, /api/jobs, /, static files
 * server.listen(3000);
 * ```
 */
export class Gateway {
  /** The HTTP routes, to mount on an express app of yours. */
  readonly router: Router;
  /** An express app serving `router` (what the gateway's own server runs). */
  readonly app: Express;
  /** The Socket.IO server. */
  readonly io: IoServer<
    ClientToServerEvents,
    ServerToClientEvents,
    Record<string, never>,
    SocketData
  >;
  /** The HTTP server Socket.IO is attached to (yours, or the gateway's own). */
  readonly server: HttpServer;
  readonly metrics: GatewayMetrics;
  readonly logger: BaseLogger;
  readonly prefix: string;

  readonly #key: Uint8Array;
  readonly #clockTolerance: number;
  readonly #redisTimeout: number;
  readonly #redis: RedisClient;
  readonly #ownsRedis: boolean;
  readonly #ownsServer: boolean;
  /** Takes the gateway's listeners off a server that is yours (see server-listeners.ts). */
  readonly #restoreListeners: (() => void) | undefined;
  readonly #cluster: boolean;
  readonly #subscriber: PubSub;
  readonly #subscriptions: Subscriptions;
  readonly #health: HealthCheck;
  readonly #fanout: Fanout;
  readonly #limits: SubscribeLimits;
  readonly #slow: SlowConsumers;
  readonly #origins: OriginPolicy;
  readonly #demo: DemoWorkers | undefined;
  #redisDown = false;
  #closing: Promise<void> | undefined;

  /** Validates every option (throwing before anything starts), then connects to Redis. */
  constructor(options: GatewayOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Expected an options object");
    }
    this.#key = checkSecret(options.secret);
    this.prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX);
    this.#origins = new OriginPolicy(options.allowedOrigins ?? []);
    this.#limits = new SubscribeLimits(options.limits);
    const window = positiveInt(
      "coalesceWindow",
      options.coalesceWindow ?? DEFAULTS.coalesceWindow,
      true,
    );
    const maxHttpBufferSize = positiveInt(
      "maxHttpBufferSize",
      options.maxHttpBufferSize ?? DEFAULTS.maxHttpBufferSize,
    );
    this.#clockTolerance = positiveInt(
      "clockTolerance",
      options.clockTolerance ?? DEFAULTS.clockTolerance,
      true,
    );
    this.#redisTimeout = positiveInt("redisTimeout", options.redisTimeout ?? DEFAULTS.redisTimeout);
    const path = options.path ?? DEFAULTS.path;
    if (typeof path !== "string" || !/^\/[A-Za-z0-9_./-]*$/.test(path)) {
      throw new InvalidArgumentError(`Expected \`path\` to be a URL path, got ${String(path)}`);
    }
    const demo =
      options.demo === true
        ? resolveDemoOptions({})
        : options.demo
          ? resolveDemoOptions(options.demo)
          : undefined;
    this.logger = options.logger ?? pino({ name: "redis-progress", level: "warn" });
    // The CONNECT packet is the token plus `40{"token":""}`: a smaller limit cuts
    // valid tokens off with no connect_error, and their clients reconnect forever.
    if (maxHttpBufferSize < MAX_TOKEN_LENGTH + 64) {
      this.logger.warn(
        { maxHttpBufferSize, maxTokenLength: MAX_TOKEN_LENGTH },
        "maxHttpBufferSize is below the longest token the gateway accepts: a client whose token does not fit is disconnected without connect_error",
      );
    }

    // Redis: reads on the command connection, pub/sub on a dedicated one.
    const source = options.redis ?? defaultRedisSource();
    if (typeof source === "string" || Array.isArray(source)) {
      // A URL, or cluster seeds; openClient throws on a bad one before connecting.
      this.#redis = openClient(source as string | readonly string[], { maxRetriesPerRequest: 1 });
      this.#ownsRedis = true;
    } else {
      if (!isRedisClient(source)) {
        throw new InvalidArgumentError(
          "Expected `redis` to be an ioredis client, a Cluster or a URL string",
        );
      }
      this.#redis = source;
      this.#ownsRedis = false;
    }
    this.#cluster = isCluster(this.#redis);
    if (this.#ownsRedis) {
      // Snapshot reads answer joins: their replies too are parsed as they are read.
      if (this.#cluster) readClusterRepliesDirectly(this.#redis as Cluster);
      else readRepliesDirectly(this.#redis as Redis);
    }
    // Redis Cluster: sharded pub/sub, one connection per master serving a watched scope.
    let checked: HealthCheckTarget[] | (() => HealthCheckTarget[]) = [];
    if (this.#cluster) {
      const shards = new ClusterSubscriber(this.#redis as Cluster, this.#redisTimeout);
      this.#subscriber = shards;
      checked = () => shards.links();
    } else {
      const pubsub = openSubscriber(typeof source === "string" ? source : (this.#redis as Redis));
      this.#subscriber = new Subscriber(pubsub, this.#redisTimeout);
      checked = [{ name: "pubsub", client: pubsub }];
      if (this.#ownsRedis) checked.push({ name: "command", client: this.#redis as Redis });
    }
    this.#health = new HealthCheck(
      checked,
      positiveInt(
        "healthCheckInterval",
        options.healthCheckInterval ?? DEFAULTS.healthCheckInterval,
        true,
      ),
      this.#redisTimeout,
      (name, error) => {
        this.metrics.redisErrors.inc();
        this.logger.warn({ connection: name }, error.message);
      },
    );
    this.#redis.on("error", this.#onCommandError);
    this.#redis.on("ready", this.#onCommandReady);
    this.#subscriber.on("error", (error) => this.#onRedisError(error, "pubsub"));
    this.#subscriber.on("reconnected", () =>
      this.logger.info("pub/sub connection restored: resubscribing and re-reading every scope"),
    );
    this.#subscriber.on("dropped", (channels) =>
      this.logger.info(
        { scopes: channels.length },
        "a Redis Cluster shard's subscriptions were lost (node down, failover or slot move): resubscribing and re-reading its scopes",
      ),
    );

    this.#subscriptions = new Subscriptions({
      subscriber: this.#subscriber,
      // Reads and cancels are scripts: ioredis adds the keyPrefix to their KEYS itself.
      read: (scope) => readJobs(this.#redis, this.prefix, scope, this.#cluster),
      prefix: this.prefix,
      // A Cluster's own keyPrefix, or its redisOptions' (ioredis copies that one up).
      keyPrefix: this.#redis.options.keyPrefix ?? "",
      cluster: this.#cluster,
      timeout: this.#redisTimeout,
    });
    this.#fanout = new Fanout(window, (scope, patch, text) =>
      this.#emit("progress", scope, patch, text),
    );
    this.#subscriptions.on("update", (scope, patch, text) => this.#fanout.push(scope, patch, text));
    this.#subscriptions.on("snapshot", (scope, jobs) => {
      this.#fanout.drop(scope);
      this.#emit("snapshot", scope, jobs);
    });
    this.#subscriptions.on("received", () => this.metrics.updatesReceived.inc());
    this.#subscriptions.on("garbage", (scope, count, where) => {
      this.metrics.garbage.inc({ where }, count);
      this.logger.warn({ scope, count, where }, "skipped values that are not jobs");
    });
    this.#subscriptions.on("error", (error) => {
      this.metrics.redisErrors.inc();
      this.logger.warn({ err: error }, "resubscribe or snapshot read failed; retrying");
    });

    // Socket.IO (and HTTP).
    this.metrics = new GatewayMetrics({
      connectedSockets: () => this.io.of("/").sockets.size,
      liveScopes: () => this.#subscriptions.size,
    });
    const cancel = new CancelService({
      redis: this.#redis,
      prefix: this.prefix,
      cluster: this.#cluster,
      timeout: this.#redisTimeout,
      limits: this.#limits,
      registry: this.metrics.registry,
      logger: this.logger,
    });
    const verify = (token: unknown) => verifyToken(token, this.#key, this.#clockTolerance);
    this.router = createRouter({
      healthy: () => this.healthy(),
      metrics: async () => ({
        contentType: this.metrics.registry.contentType,
        body: await this.metrics.registry.metrics(),
      }),
      verify,
      jobs: (scope) => this.#jobs(scope),
      origins: this.#origins,
      logger: this.logger,
      extra: (router) => {
        cancel.mount(router, verify);
        if (demo) {
          demoTokenRoute(router, {
            // Demo tokens may cancel the demo's jobs too, so the dashboard shows the button.
            sign: (scopes, ttl) =>
              signScopeToken({ secret: this.#key, scopes, ttl, sub: "demo", cancel: scopes }),
            scopes: demo.scopes,
            ttl: demo.tokenTtl,
            origins: this.#origins,
            interval: demo.interval,
            path,
          });
        }
      },
    });
    this.app = express();
    this.app.disable("x-powered-by");
    this.app.use(this.router);
    this.#ownsServer = options.server === undefined;
    this.server = options.server ?? createServer(this.app);
    const upgradeListenersBefore = new Set(this.server.listeners("upgrade"));
    const attached = this.#ownsServer ? undefined : recordListeners(this.server);
    this.io = new IoServer(this.server, {
      path,
      serveClient: false,
      maxHttpBufferSize,
      // Compression buffers per socket cost more memory than the small
      // progress messages save.
      perMessageDeflate: false,
      // A progress event relayed from one pub/sub message is sent as that message's text.
      parser: preencodedParser,
      // A client that opens a transport but never sends CONNECT is dropped soon.
      connectTimeout: 10_000,
      allowRequest: (req, callback) => callback(null, this.#origins.allows(req)),
      cors:
        this.#origins.origins.length > 0 || this.#origins.isListed("*")
          ? {
              origin: (origin, cb) =>
                cb(null, origin === undefined || this.#origins.isListed(origin)),
            }
          : undefined,
    });
    // Socket.IO's advice for memory: the handshake's IncomingMessage (and all
    // it references) is not needed once the Origin was checked.
    // `socket.handshake.headers` is then empty; the address and the auth
    // payload are kept. For WebSocket upgrades engine.io holds the request
    // elsewhere too; guardUpgrades lets go of that (see upgrade-response.ts).
    this.io.engine.on("connection", (raw: { request: unknown }) => {
      raw.request = null;
    });
    const added = this.server
      .listeners("upgrade")
      .filter((l) => !upgradeListenersBefore.has(l)) as ((...args: unknown[]) => void)[];
    guardUpgrades(this.server, added, path, this.#origins);
    guardPolling(this.io.engine, this.#origins);
    this.#restoreListeners = attached?.();
    const handlers = new SocketHandlers({
      verify,
      clockTolerance: this.#clockTolerance,
      subscriptions: this.#subscriptions,
      fanout: this.#fanout,
      limits: this.#limits,
      metrics: this.metrics,
      logger: this.logger,
      cancel,
    });
    this.io.use((socket, next) => handlers.authenticate(socket, next));
    this.io.on("connection", (socket) => handlers.connection(socket));
    this.#slow = new SlowConsumers(this.io, this.#limits.maxBufferedBytes, (socket, bytes) => {
      this.metrics.slowConsumers.inc();
      this.logger.warn(
        { sub: (socket.data as { claims?: { sub?: string } }).claims?.sub, bytes },
        "a client does not read what it is sent: disconnecting it",
      );
    });

    if (demo) {
      this.#demo = new DemoWorkers({
        ...demo,
        redis: this.#redis,
        prefix: this.prefix,
        logger: this.logger,
      });
      this.#demo.start();
    }
  }

  /** Starts the gateway's own server; resolves with the bound port and base URL. */
  listen(port = 0, host?: string): Promise<{ port: number; url: string }> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        resolve(this.address());
      });
    });
  }

  /** The bound port and a URL to reach it (loopback names for wildcard binds). */
  address(): { port: number; url: string } {
    const info = this.server.address() as AddressInfo | null;
    if (info === null || typeof info !== "object") throw new Error("The server is not listening");
    const host =
      info.address === "::" || info.address === "0.0.0.0"
        ? "localhost"
        : info.family === "IPv6"
          ? `[${info.address}]`
          : info.address;
    return { port: info.port, url: `http://${host}:${info.port}` };
  }

  /** True when both Redis connections answer. */
  async healthy(): Promise<boolean> {
    if (!this.#subscriber.ready) return false;
    try {
      await withTimeout(
        this.#redis.ping(),
        Math.min(this.#redisTimeout, 2000),
        "PING",
        "redisTimeout",
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops everything: the demo, every socket, the server (when it is the
   * gateway's own; Socket.IO detaches from yours), timers, and the Redis
   * connections the gateway opened. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // A caller's client outlives this gateway: it must not keep it reachable,
    // whatever happens below.
    this.#redis.off("error", this.#onCommandError);
    this.#redis.off("ready", this.#onCommandReady);
    this.#health.stop();
    this.#slow.close();
    await this.#demo?.stop();
    if (this.#ownsServer) {
      const closed = new Promise<void>((resolve) => this.io.close(() => resolve()));
      this.server.closeIdleConnections();
      // Keep-alive requests in flight get a moment, then are cut.
      const cut = setTimeout(() => this.server.closeAllConnections(), 1000);
      await closed;
      clearTimeout(cut);
    } else {
      this.io.local.disconnectSockets(true);
      this.io.engine.close();
      // Your server serves no Socket.IO request any more, nor holds this gateway.
      this.#restoreListeners?.();
    }
    this.#fanout.close();
    await this.#subscriptions.close();
    await this.#subscriber.close();
    if (this.#ownsRedis) {
      // Errors while it closes are expected (Redis may be why we close).
      this.#redis.on("error", () => {});
      // A frozen or unreachable server never answers QUIT: give it redisTimeout.
      await withTimeout(this.#redis.quit(), this.#redisTimeout, "QUIT", "redisTimeout").catch(() =>
        this.#redis.disconnect(),
      );
    }
    this.metrics.close();
  }

  readonly #onCommandError = (error: Error) => this.#onRedisError(error, "command");
  readonly #onCommandReady = () => this.#onRedisReady("command");

  async #jobs(scope: string): Promise<JobMap> {
    const held = this.#subscriptions.jobs(scope);
    if (held !== undefined) return held;
    const { jobs, garbage } = await withTimeout(
      readJobs(this.#redis, this.prefix, scope, this.#cluster),
      this.#redisTimeout,
      "A snapshot read",
      "redisTimeout",
    );
    if (garbage.length > 0) {
      this.metrics.garbage.inc({ where: "snapshot" }, garbage.length);
      this.logger.warn({ scope, count: garbage.length }, "skipped values that are not jobs");
    }
    // Past retention: Redis drops it at its next housekeeping; no reader shows it any more.
    return visibleJobs(Object.entries(jobs), Date.now());
  }

  /** `text`, when given, is the exact JSON of `{ scope, jobs }` (see preencoded-parser.ts). */
  #emit(event: "progress" | "snapshot", scope: string, jobs: JobPatch, text?: string): void {
    const room = roomOf(scope);
    const size = this.io.of("/").adapter.rooms.get(room)?.size ?? 0;
    if (size === 0) return;
    const payload = { scope, jobs };
    this.io.to(room).emit(event, text === undefined ? payload : withJsonText(payload, text));
    this.metrics.updatesEmitted.inc();
    this.metrics.deliveries.inc(size);
  }

  #onRedisError(error: Error, connection: "command" | "pubsub"): void {
    this.metrics.redisErrors.inc();
    if (!this.#redisDown) {
      this.#redisDown = true;
      this.logger.warn({ err: error, connection }, "Redis connection error; reconnecting");
    }
  }

  #onRedisReady(connection: "command" | "pubsub"): void {
    if (this.#redisDown) {
      this.#redisDown = false;
      this.logger.info({ connection }, "Redis connection restored");
    }
  }
}

/** Creates a gateway (see Gateway for standalone use and for attaching to your own server). */
export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
