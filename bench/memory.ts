/**
 * Memory per connected client (issue item 5): heap and RSS of the server
 * process per idle client (connected and subscribed to one of 100 scopes),
 * after full collections (the server runs with --expose-gc), for the gateway
 * and for a bare socket.io server with default options.
 */
import type { TestRedis } from "../test/helpers/redis-server";
import { sleep } from "./lib/phase";
import type { Cell, Table } from "./lib/report";
import type { Scale } from "./lib/scale";
import { BENCH_SECRET, LoadGen, ServerProc, openAll } from "./lib/servers";

const SCOPES = Array.from({ length: 100 }, (_, k) => `mem:${k}`);
const KB = 1024;

export async function benchMemory(options: { redis: TestRedis; scale: Scale }): Promise<Table[]> {
  const { redis, scale } = options;
  const loadgen = await LoadGen.start();
  const rows: Cell[][] = [];
  try {
    for (const kind of ["gateway", "bare"] as const) {
      const name = kind === "gateway" ? "redis-progress gateway" : "bare socket.io (defaults)";
      const server = await ServerProc.start(kind, { redisUrl: redis.url, gc: true });
      const secret = kind === "gateway" ? BENCH_SECRET : undefined;
      try {
        // Warm-up: the first connections load code and grow pools that are not per client.
        await openAll(loadgen, { url: server.url, count: 50, scopes: SCOPES, secret });
        await loadgen.close();
        await sleep(300);
        const base = await server.memory();
        let open = 0;
        for (const count of scale.memory.counts) {
          await openAll(loadgen, {
            url: server.url,
            count: count - open,
            scopes: SCOPES,
            secret,
            concurrency: 100,
          });
          open = count;
          // Idle: let handshake leftovers become garbage before collecting.
          await sleep(500);
          const sockets = await server.sockets();
          const reading = await server.memory();
          rows.push([
            name,
            count,
            sockets,
            (reading.heapUsed - base.heapUsed) / count / KB,
            (reading.rss - base.rss) / count / KB,
            reading.heapUsed / KB / KB,
            reading.rss / KB / KB,
            reading.collected ? "yes" : "no",
          ]);
        }
      } finally {
        await loadgen.close();
        await server.stop();
      }
    }
  } finally {
    await loadgen.stop();
  }
  return [
    {
      title: "Memory per idle client (server process)",
      columns: [
        "server",
        "clients",
        "sockets seen",
        "heap KB/client",
        "RSS KB/client",
        "heap MB",
        "RSS MB",
        "after GC",
      ],
      rows,
      notes: [
        "Each client is connected over WebSocket and subscribed to one of 100 scopes. Per client = " +
          "(reading − reading after a 50-client warm-up) ÷ clients; heap after full collections " +
          "(--expose-gc). RSS does not give memory back after collections, so it includes what the " +
          "connect burst allocated. Target: ≤ 10 KB heap per client and below the bare server.",
      ],
    },
  ];
}
