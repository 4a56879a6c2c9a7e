/**
 * Resolves the `redis` option: a client the caller owns, or a URL (or a list of
 * cluster node URLs) for which we keep one shared, reference-counted connection
 * per process.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { RedisClient } from "./scripts";
import { InvalidArgumentError } from "../errors/invalid-argument-error";

/**
 * What the `redis` option accepts: an ioredis client (standalone or Cluster),
 * a `redis://` URL, or Redis Cluster seeds as an array of URLs or one string of
 * comma-separated URLs (`"redis://10.0.0.1:7000,redis://10.0.0.2:7000"`).
 */
export type RedisOption = RedisClient | string | readonly string[];

export interface Connection {
  readonly client: RedisClient;
  readonly cluster: boolean;
  /** Gives the connection back; the last user of an owned URL connection closes it. */
  release(): Promise<void>;
}

const DEFAULT_URL = "redis://127.0.0.1:6379";
const URL_PATTERN = /^rediss?:\/\//;

const shared = new Map<string, { client: RedisClient; users: number }>();

/** True for an ioredis Cluster instance. */
export function isCluster(client: RedisClient): boolean {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** A cluster seed. */
export interface ClusterNode {
  host: string;
  port: number;
}

function parsePort(what: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(
      `Expected ${what} to be a port number, got ${JSON.stringify(value)}`,
    );
  }
  return port;
}

/**
 * `host:port,host:port` (REDIS_CLUSTER_NODES) → seeds; IPv6 hosts in brackets
 * (`[::1]:7000`). `name` is the variable named in the error.
 */
export function parseClusterNodes(value: string, name = "REDIS_CLUSTER_NODES"): ClusterNode[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  const nodes = items.map((item) => {
    const match = /^(\[[^\]]+\]|[^:/[\]]+):(\d+)$/.exec(item);
    if (match === null) {
      throw new InvalidArgumentError(
        `Expected ${name} to be comma-separated host:port pairs, got ${JSON.stringify(item)}`,
      );
    }
    const host = (match[1] as string).replace(/^\[|\]$/g, "");
    return { host, port: parsePort(`a ${name} port`, match[2] as string) };
  });
  if (nodes.length === 0) {
    throw new InvalidArgumentError(`${name} is set but lists no host:port`);
  }
  return nodes;
}

/** The URL, or the cluster seed URLs, a `redis` option given as text stands for. */
function urlsOf(source: string | readonly string[]): { urls: string[]; cluster: boolean } {
  if (typeof source === "string") {
    const urls = source
      .split(",")
      .map((url) => url.trim())
      .filter((url) => url !== "");
    return { urls, cluster: urls.length > 1 };
  }
  if (!Array.isArray(source) || source.some((url) => typeof url !== "string")) {
    throw new InvalidArgumentError("Expected `redis` to be an array of redis:// URLs");
  }
  return { urls: [...source], cluster: true };
}

/**
 * Cluster seeds and the node options (credentials, TLS) from `redis://` URLs.
 * Every node of a cluster shares the credentials, so those of the first URL
 * that has any are used.
 */
export function clusterFromUrls(urls: readonly string[]): {
  nodes: ClusterNode[];
  redisOptions: RedisOptions;
} {
  if (urls.length === 0) {
    throw new InvalidArgumentError("Expected at least one redis:// URL for the cluster");
  }
  const redisOptions: RedisOptions = {};
  const nodes = urls.map((text) => {
    let url: URL;
    try {
      if (!URL_PATTERN.test(text)) throw new TypeError("not a redis URL");
      url = new URL(text);
    } catch {
      throw new InvalidArgumentError(
        `Expected a redis:// or rediss:// URL of a cluster node, got ${JSON.stringify(text)}`,
      );
    }
    if (url.pathname !== "" && url.pathname !== "/" && url.pathname !== "/0") {
      throw new InvalidArgumentError(
        `Redis Cluster has only database 0; remove ${JSON.stringify(url.pathname)} from ${JSON.stringify(text)}`,
      );
    }
    if (url.password !== "" && redisOptions.password === undefined) {
      redisOptions.password = decodeURIComponent(url.password);
      if (url.username !== "") redisOptions.username = decodeURIComponent(url.username);
    }
    if (url.protocol === "rediss:") redisOptions.tls = {};
    return {
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? 6379 : parsePort("the port of a cluster node URL", url.port),
    };
  });
  return { nodes, redisOptions };
}

/**
 * Opens a connection for a URL (standalone) or a URL list (Cluster). The
 * `nodeOptions` apply to every connection (for a Cluster, to each node's).
 */
export function openClient(
  source: string | readonly string[],
  nodeOptions: RedisOptions = {},
  clusterOptions: ClusterOptions = {},
): RedisClient {
  const { urls, cluster } = urlsOf(source);
  if (!cluster) {
    const url = urls[0];
    if (url === undefined || !URL_PATTERN.test(url)) {
      throw new InvalidArgumentError(
        `Expected \`redis\` to be a redis:// or rediss:// URL, got ${JSON.stringify(source)}`,
      );
    }
    return new Redis(url, nodeOptions);
  }
  const { nodes, redisOptions } = clusterFromUrls(urls);
  return new Cluster(nodes, {
    ...clusterOptions,
    redisOptions: { ...redisOptions, ...nodeOptions, ...clusterOptions.redisOptions },
  });
}

/** Cluster seeds as `redis://` URLs (IPv6 hosts in brackets). */
export function clusterNodeUrls(nodes: readonly ClusterNode[]): string[] {
  return nodes.map(({ host, port }) =>
    host.includes(":") ? `redis://[${host}]:${port}` : `redis://${host}:${port}`,
  );
}

/** True when `value` is an ioredis client or Cluster (it has `defineCommand`). */
export function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { defineCommand?: unknown }).defineCommand === "function"
  );
}

/**
 * The `redis` default: REDIS_CLUSTER_NODES (seeds of a Redis Cluster, as the
 * gateway reads them) when set, else REDIS_URL, else the local default.
 */
export function defaultRedisSource(env: NodeJS.ProcessEnv = process.env): string | string[] {
  const nodes = env.REDIS_CLUSTER_NODES;
  if (nodes !== undefined && nodes.trim() !== "") {
    return clusterNodeUrls(parseClusterNodes(nodes));
  }
  const url = env.REDIS_URL;
  return url === undefined || url === "" ? DEFAULT_URL : url;
}

/** How long the shared connection waits for an answer before it counts as dead, by default. */
const DEFAULT_CONNECTION_TIMEOUT = 5000;

/**
 * The connection for a `redis` option. For a URL, `timeout` (ms) sets how long
 * the shared connection waits on a pending command before it counts as dead;
 * the first user of a URL sets it.
 */
export function acquireConnection(
  redis: RedisOption | undefined,
  timeout = DEFAULT_CONNECTION_TIMEOUT,
): Connection {
  if (redis !== undefined && typeof redis !== "string" && !Array.isArray(redis)) {
    if (!isRedisClient(redis)) {
      throw new InvalidArgumentError(
        "Expected `redis` to be an ioredis client, a Cluster, a URL string or an array of URLs",
      );
    }
    return { client: redis, cluster: isCluster(redis), release: async () => {} };
  }
  const source = (redis as string | readonly string[] | undefined) ?? defaultRedisSource();
  const { urls, cluster } = urlsOf(source);
  const key = `${cluster ? "cluster" : "single"} ${urls.join(",")}`;
  let entry = shared.get(key);
  if (entry === undefined) {
    // A server that stops answering without closing the socket (SIGSTOP, a
    // partition, a half-open connection after a failover) is invisible to TCP:
    // `socketTimeout` drops a connection on which a command waited `timeout` ms
    // for any byte, and ioredis reconnects. `commandTimeout` is the backstop that
    // settles a command lost with such a connection, after the drop.
    // Nothing is replayed: a tracker retries with its latest state (a resent or
    // queued write would be stale), so a command dropped with its connection is
    // not resent, and the offline queue is flushed at each failed reconnection.
    const client = openClient(cluster ? urls : source, {
      socketTimeout: timeout,
      commandTimeout: 2 * timeout,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    entry = { client, users: 0 };
    entry.client.on("error", () => {
      // Reported per write through the tracker's "error" event instead.
    });
    shared.set(key, entry);
  }
  entry.users += 1;
  const held = entry;
  let released = false;
  return {
    client: held.client,
    cluster,
    release: async () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0 && shared.get(key) === held) {
        shared.delete(key);
        // Not connected: a QUIT would wait in the offline queue behind commands
        // nobody waits for any more (a dropped tracker's write), and all of
        // them would run once the server is back. Drop them with the socket.
        if (held.client.status !== "ready") held.client.disconnect();
        else await held.client.quit().catch(() => held.client.disconnect());
      }
    },
  };
}
