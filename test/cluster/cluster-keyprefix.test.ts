/**
 * Redis Cluster (3 masters, no replicas) with a `keyPrefix` on the Cluster
 * client that the gateway and the tracker share: the write script SPUBLISHes
 * on its prefixed KEYS[1], so the gateway must SSUBSCRIBE that name, on the
 * master of that name's slot. With `app:` the slot is the scope's hash tag;
 * with `{app}:` (a prefix carrying its own hash tag, which comes first) every
 * scope lives in the slot of `app`.
 */
import type { ClusterOptions } from "ioredis";
import pino from "pino";
import { io } from "socket.io-client";
import { RedisProgress } from "../../shared";
import type { JobValue } from "../../shared/job";
import { scopeKeys } from "../../shared/keys";
import { createGateway, signScopeToken, type Gateway } from "../../server";
import { keySlot } from "../../server/cluster-slot";
import { TEST_SECRET, type ClientSocket } from "../helpers/gateway";
import { TestRedisCluster } from "../helpers/redis-cluster";
import { waitFor } from "../helpers/wait";

jest.setTimeout(60_000);

let cluster: TestRedisCluster;
const gateways: Gateway[] = [];
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  cluster = await TestRedisCluster.start({ masters: 3, replicas: 0 });
}, 90_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  for (const gateway of gateways) await gateway.close();
  await cluster?.stop();
});

const CASES: [string, string, ClusterOptions][] = [
  ["keyPrefix `app:`", "app:", { keyPrefix: "app:" }],
  // ioredis copies redisOptions.keyPrefix up to the Cluster's own options.
  ["redisOptions.keyPrefix `{app}:`", "{app}:", { redisOptions: { keyPrefix: "{app}:" } }],
];

test.each(CASES)(
  "%s: a watcher gets the snapshot, then live progress",
  async (_name, keyPrefix, options) => {
    const scope = `user:${keyPrefix.length}`;
    const channel = keyPrefix + scopeKeys("resque:pace", scope, true).channel;
    const client = cluster.cluster(options);
    const gateway = createGateway({
      secret: TEST_SECRET,
      redis: client,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    });
    gateways.push(gateway);
    const { url } = await gateway.listen(0, "127.0.0.1");
    const pace = await RedisProgress.start({ redis: client, scope, total: 10, interval: 1 });

    const token = await signScopeToken({ secret: TEST_SECRET, scopes: [scope], ttl: 600 });
    const socket: ClientSocket = io(url, {
      auth: { token },
      transports: ["websocket"],
      reconnection: false,
    });
    sockets.push(socket);
    const seen: JobValue[] = [];
    socket.on("progress", (message) => {
      const value = message.jobs[pace.id];
      if (value) seen.push(value);
    });
    const ack = await socket.timeout(10_000).emitWithAck("subscribe", { scope });
    expect(ack).toMatchObject({ ok: true, jobs: { [pace.id]: { count: 0 } } });

    pace.tick(5);
    await pace.flush();
    await waitFor(() => seen.some((value) => value.count === 5), { what: "live progress" });

    // Subscribed on the master that owns the prefixed channel's slot.
    const master = cluster.node(await cluster.masterOfSlot(keySlot(channel)));
    expect(await master.call("PUBSUB", "SHARDCHANNELS")).toContain(channel);
    await pace.finish();
  },
);
