/** Options of `RedisProgress` and the query functions, with their defaults. */
import type { ScopeInput } from "../scope";
import type { JsonObject } from "../job";
import type { RedisOption } from "./connection";

/** Where to find the data: shared by the tracker and the queries. */
export interface ScopeOptions {
  /**
   * An ioredis client (standalone or Cluster), a `redis://` URL, or Redis
   * Cluster seeds (an array of URLs, or one string of comma-separated URLs).
   * With URLs, one connection per URL (or seed list) is shared by the process
   * and closed by its last user.
   * @default REDIS_CLUSTER_NODES (host:port,...) when set, else process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
   */
  redis?: RedisOption;
  /** The scope, as parts (`["user", 3421]`) or joined (`"user:3421"`). */
  scope: ScopeInput;
  /**
   * Key prefix.
   * @default "resque:pace"
   */
  prefix?: string;
}

export interface RedisProgressOptions extends ScopeOptions {
  /** Number of items the job will process: a non-negative integer; 0 means 100% at once. */
  total: number;
  /**
   * Job id (the hash field). Pass the same id from several processes to share one job.
   * @default a random UUID v4
   */
  id?: string;
  /** A human-readable name shown by dashboards. */
  name?: string;
  /**
   * Any JSON object stored with the job, verbatim: at most 16 KB as JSON and
   * 100 levels of nesting, strings of well-formed Unicode (no lone surrogate),
   * so that Redis's JSON decoder reads it back.
   */
  meta?: JsonObject;
  /**
   * Minimum time between two progress writes, in ms.
   * @default 2000
   */
  interval?: number;
  /**
   * A running tracker rewrites its job at least this often, in ms, so readers can
   * tell a live job from a dead one (stalled after 3 heartbeats without a write).
   * @default 30000
   */
  heartbeat?: number;
  /**
   * How long a job stays after its last write (finished jobs, and dead workers' jobs), in ms.
   * @default 86400000 (24 h)
   */
  retention?: number;
  /**
   * How long `ready`, `finish()`, `fail()` and `flush()` keep retrying before
   * they reject with a `TimeoutError`, in ms.
   * @default 10000
   */
  timeout?: number;
  /**
   * How long one write may take before it counts as failed (and is retried by the next), in ms.
   * A tracker never has two writes in the connection at once: after a timeout the
   * next write waits until the connection settles the previous one. For a URL,
   * the first tracker's `writeTimeout` is also how long the shared connection
   * waits on a silent server before it drops the connection and reconnects.
   * @default 5000
   */
  writeTimeout?: number;
  /**
   * Id of this job's parent job, in the same scope: every write of this job also
   * updates the parent's aggregate (see `child()` for a child in the same process).
   */
  parent?: string;
  /**
   * This child's share of its parent: a positive integer up to 1,000,000 (integers
   * keep the parent's sums exact). Used with `parent`.
   * @default 1
   */
  weight?: number;
  /**
   * For a parent: complete (or fail, when a child failed) by itself once `total`
   * children have reported and all of them have ended. `total` is then the
   * number of children to wait for.
   * @default false
   */
  completeWithChildren?: boolean;
}

/** Options of `pace.child()`: the child inherits the parent's connection, scope and timings. */
export interface ChildOptions {
  /** Number of items the child will process. */
  total: number;
  /**
   * The child's share of the parent (a positive integer up to 1,000,000).
   * @default 1
   */
  weight?: number;
  /** A human-readable name shown by dashboards. */
  name?: string;
  /** @default a random UUID v4 */
  id?: string;
  /** Any JSON object stored with the child (limits as the tracker's `meta`). */
  meta?: JsonObject;
}

/** Defaults, with why each is what it is. */
export const DEFAULTS = {
  // The seed's: progress at most every 2 s is smooth enough for a human and cheap for Redis.
  interval: 2000,
  // 30 s keeps the write rate of idle-but-alive jobs negligible; stalled after 90 s.
  heartbeat: 30_000,
  // A day: long enough for users to come back and see how last night's job ended.
  retention: 86_400_000,
  // Long enough to ride out a Redis restart or failover; short enough not to hang shutdown.
  timeout: 10_000,
  // Below `timeout` so a frozen server yields a retry before the deadline.
  writeTimeout: 5000,
} as const;

export const MAX_META_BYTES = 16 * 1024;
/**
 * Largest weight of one child. A parent's sum of weights times 10^9 must stay
 * below 2^53 for its sums to be exact: about 9 million in all.
 */
export const MAX_WEIGHT = 1_000_000;
/** Counts are exact in the scripts' JSON encoder below 10^14. */
export const MAX_TOTAL = 1e14 - 1;
