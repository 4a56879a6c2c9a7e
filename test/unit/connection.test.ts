/**
 * The `redis` option's text forms (no Redis needed: nothing connects until a
 * command is sent, and every client made here is disconnected at once).
 */
import { Cluster, Redis } from "ioredis";
import {
  clusterFromUrls,
  defaultRedisSource,
  openClient,
  parseClusterNodes,
} from "../../shared/tracker/connection";
import { keySlot } from "../../server/cluster-slot";
import { scopeKeys, writersKey } from "../../shared/keys";

function opened(source: string | string[]): Redis | Cluster {
  const client = openClient(source, { lazyConnect: true }, { lazyConnect: true });
  client.disconnect();
  return client;
}

test("one URL is a standalone client; an array or a comma list of URLs is a Cluster", () => {
  expect(opened("redis://127.0.0.1:1")).toBeInstanceOf(Redis);
  expect(opened(["redis://127.0.0.1:1"])).toBeInstanceOf(Cluster);
  expect(opened("redis://127.0.0.1:1, redis://127.0.0.1:2")).toBeInstanceOf(Cluster);
});

test("cluster seed URLs carry credentials and TLS to every node", () => {
  const { nodes, redisOptions } = clusterFromUrls([
    "rediss://app:s%40cret@10.0.0.1:7000",
    "rediss://[::1]:7001",
    "rediss://10.0.0.3",
  ]);
  expect(nodes).toEqual([
    { host: "10.0.0.1", port: 7000 },
    { host: "::1", port: 7001 },
    { host: "10.0.0.3", port: 6379 },
  ]);
  expect(redisOptions).toEqual({ username: "app", password: "s@cret", tls: {} });
});

test("bad seeds are refused with the variable or option to fix", () => {
  expect(() => clusterFromUrls([])).toThrow(/at least one/);
  expect(() => clusterFromUrls(["http://x:1"])).toThrow(/redis:\/\//);
  expect(() => clusterFromUrls(["redis://x:7000/2"])).toThrow(/only database 0/);
  expect(() => openClient("localhost:6379")).toThrow(/redis:\/\//);
  expect(() => parseClusterNodes("10.0.0.1")).toThrow(/REDIS_CLUSTER_NODES/);
  expect(() => parseClusterNodes("a:0")).toThrow(/port/);
  expect(() => parseClusterNodes(" , ")).toThrow(/lists no host:port/);
});

test("REDIS_CLUSTER_NODES wins over REDIS_URL for the default", () => {
  expect(defaultRedisSource({})).toBe("redis://127.0.0.1:6379");
  expect(defaultRedisSource({ REDIS_URL: "redis://r:1" })).toBe("redis://r:1");
  expect(
    defaultRedisSource({ REDIS_URL: "redis://r:1", REDIS_CLUSTER_NODES: "a:7000,[::1]:7001" }),
  ).toEqual(["redis://a:7000", "redis://[::1]:7001"]);
});

test("key slots follow Redis' hash-tag rule; a scope's keys share one slot", () => {
  expect(keySlot("123456789")).toBe(12739); // CRC16/XMODEM check value 0x31C3 mod 16384
  expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
  // An empty first tag: the whole key is hashed (Redis' documented example).
  expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar"));
  expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
  const keys = scopeKeys("resque:pace", "user:3421", true);
  const slot = keySlot(keys.hash);
  expect(keySlot(keys.expiry)).toBe(slot);
  expect(keySlot(writersKey(keys, "job-1"))).toBe(slot);
  expect(slot).toBe(keySlot("user:3421"));
});
