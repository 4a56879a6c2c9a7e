/**
 * The embedded Redis used when REDIS_URL is unset: a redis-server child
 * process started through redis-memory-server with the binary on PATH (never
 * a downloaded one), on a free loopback port, without persistence.
 */
import { RedisMemoryServer } from "redis-memory-server";
import { findRedisServer } from "./find-executable";

export interface EmbeddedRedis {
  readonly url: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts redis-server; the returned stop() ends it (and redis-memory-server's watchdog).
 *
 * @throws InvalidArgumentError when REDISMS_SYSTEM_BINARY is set but not an
 *   executable file (see findRedisServer).
 */
export async function startEmbeddedRedis(): Promise<EmbeddedRedis> {
  const binary = findRedisServer();
  if (binary === undefined) {
    throw new Error(
      "REDIS_URL is not set and no redis-server is on PATH: install Redis " +
        "(apt-get install redis-server, brew install redis) or set REDIS_URL",
    );
  }
  const server = new RedisMemoryServer({
    instance: { ip: "127.0.0.1" },
    binary: { systemBinary: binary },
  });
  await server.start();
  const host = await server.getIp();
  const port = await server.getPort();
  const info = server.getInstanceInfo();
  const pid = info ? info.childProcess?.pid : undefined;
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://${host}:${port}`,
    pid,
    stop: () => {
      stopped ??= server.stop().then(() => undefined);
      return stopped;
    },
  };
}
