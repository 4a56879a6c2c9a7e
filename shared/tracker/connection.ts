/**
 * Resolves the `redis` option: a client the caller owns, or a URL for which we
 * keep one shared, reference-counted connection per process.
 */
import { Redis } from "ioredis";
import type { RedisClient } from "./scripts";
import { InvalidArgumentError } from "../errors/invalid-argument-error";

/** What the `redis` option accepts. */
export type RedisOption = RedisClient | string;

export interface Connection {
  readonly client: RedisClient;
  readonly cluster: boolean;
  /** Gives the connection back; the last user of an owned URL connection closes it. */
  release(): Promise<void>;
}

const DEFAULT_URL = "redis://127.0.0.1:6379";

const shared = new Map<string, { client: Redis; users: number }>();

/** True for an ioredis Cluster instance. */
export function isCluster(client: RedisClient): boolean {
  return (client as { isCluster?: boolean }).isCluster === true;
}

export function acquireConnection(redis: RedisOption | undefined): Connection {
  if (redis !== undefined && typeof redis !== "string") {
    if (typeof (redis as { defineCommand?: unknown }).defineCommand !== "function") {
      throw new InvalidArgumentError(
        "Expected `redis` to be an ioredis client, a Cluster or a URL string",
      );
    }
    return { client: redis, cluster: isCluster(redis), release: async () => {} };
  }
  const url = redis ?? process.env.REDIS_URL ?? DEFAULT_URL;
  if (!/^rediss?:\/\//.test(url)) {
    throw new InvalidArgumentError(
      `Expected \`redis\` to be a redis:// or rediss:// URL, got ${JSON.stringify(url)}`,
    );
  }
  let entry = shared.get(url);
  if (entry === undefined) {
    // Trackers keep at most one write in flight each, so the offline queue stays
    // small; a bounded command timeout turns a frozen server into fast errors.
    entry = { client: new Redis(url, { commandTimeout: 5000, maxRetriesPerRequest: 2 }), users: 0 };
    entry.client.on("error", () => {
      // Reported per write through the tracker's "error" event instead.
    });
    shared.set(url, entry);
  }
  entry.users += 1;
  const held = entry;
  let released = false;
  return {
    client: held.client,
    cluster: false,
    release: async () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0 && shared.get(url) === held) {
        shared.delete(url);
        await held.client.quit().catch(() => held.client.disconnect());
      }
    },
  };
}
