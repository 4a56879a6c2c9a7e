/**
 * A client that stops reading (its socket paused: nothing is read, the TCP
 * window closes) while its scopes are busy. What the gateway sends it piles up
 * in the gateway's memory; past `limits.maxBufferedBytes` the gateway drops it,
 * long before the heartbeat would (45 s), and a healthy client of the same
 * scopes is not affected.
 */
import type { Socket as ClientSocket } from "socket.io-client";
import { RedisProgress } from "../../shared";
import { TestGateway, subscribe, waitFor } from "../helpers/gateway";

const MAX_BUFFERED = 256 * 1024;
const SCOPES = Array.from({ length: 10 }, (_, i) => `slow:${i}`);

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { coalesceWindow: 0, limits: { maxBufferedBytes: MAX_BUFFERED } },
  });
});

afterAll(async () => {
  await tg.stop();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${tg.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
}

/** Stops reading the client's WebSocket: the server's writes back up. */
function stopReading(socket: ClientSocket): void {
  const transport = (
    socket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } }
  ).transport;
  transport.ws._socket.pause();
}

test("a socket that does not read is disconnected past maxBufferedBytes; others keep their updates", async () => {
  const token = await tg.token(["slow:*"]);
  const slow = await tg.connect(token);
  const healthy = await tg.connect(token);
  for (const scope of SCOPES) {
    expect((await subscribe(slow, scope)).ok).toBe(true);
    expect((await subscribe(healthy, scope)).ok).toBe(true);
  }
  const seen = new Map<string, number>();
  healthy.on("progress", ({ jobs }: { jobs: Record<string, { seq: number } | null> }) => {
    for (const [id, value] of Object.entries(jobs)) if (value) seen.set(id, value.seq);
  });
  stopReading(slow);
  const server = () => tg.gateway.io.of("/").sockets.size;
  expect(server()).toBe(2);

  const trackers = await Promise.all(
    SCOPES.map((scope) => RedisProgress.start({ redis: tg.redis.url, scope, total: 1_000_000 })),
  );
  // About 150 KB a round to each watcher: a few megabytes fill the kernel's
  // buffers on both ends of the paused socket, then the gateway's.
  const blob = "x".repeat(15_000);
  const deadline = Date.now() + 20_000;
  let round = 0;
  while (server() === 2 && Date.now() < deadline) {
    round += 1;
    await Promise.all(
      trackers.map((pace) => {
        pace.tick();
        pace.setMeta({ round, blob });
        return pace.flush();
      }),
    );
  }
  expect(server()).toBe(1);
  // Its connection is gone too, not left to a close handshake it cannot answer.
  await waitFor(() => tg.gateway.io.engine.clientsCount === 1, { what: "the connection to end" });
  expect(healthy.connected).toBe(true);
  expect(await metric("redis_progress_slow_consumers_total")).toBe(1);
  // The healthy watcher got every job's last write.
  await waitFor(() => trackers.every((pace) => seen.get(pace.id) === pace.seq), {
    what: "the healthy client to hold every job's last seq",
  });
  await Promise.all(trackers.map((pace) => pace.finish()));
});
