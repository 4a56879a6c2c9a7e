/**
 * Redis flushes the client it queued last first, so a script's PUBLISH went
 * out after the writer's own reply. A tracker pipelines a PING in the same
 * packet as its write, which queues its connection first: the watchers'
 * message leaves Redis before the worker's answer (see #command).
 */
import type { Socket } from "node:net";
import type { Redis } from "ioredis";
import { RedisProgress } from "../../shared";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

let redis: TestRedis;

beforeAll(async () => {
  redis = await TestRedis.start();
});
afterAll(async () => {
  await redis.stop();
});

/** The order in which bytes reached the two sockets, one entry per chunk. */
function recordArrivals(clients: Record<string, Redis>): string[] {
  const order: string[] = [];
  for (const [name, client] of Object.entries(clients)) {
    (client.stream as Socket).prependListener("data", () => order.push(name));
  }
  return order;
}

test("every write's message reaches a subscriber before the write's reply reaches the worker", async () => {
  const writer = redis.client();
  const subscriber = redis.client();
  await subscriber.subscribe("resque:pace:order");
  let messages = 0;
  subscriber.on("message", () => (messages += 1));
  const pace = await RedisProgress.start({ redis: writer, scope: "order", total: 100 });
  await waitFor(() => messages === 1, { what: "the marker's message" });
  const order = recordArrivals({ writer, subscriber });
  const firsts: (string | undefined)[] = [];
  for (let k = 0; k < 40; k++) {
    const start = order.length;
    pace.tick();
    await pace.flush();
    await waitFor(() => messages === k + 2, { what: `message ${k + 2}` });
    firsts.push(order[start]);
  }
  // Redis's order, seen through this process's event loop: nearly always kept
  // (without the PING, the writer's reply came first 499 times in 500).
  const messageFirst = firsts.filter((name) => name === "subscriber").length;
  expect(messageFirst).toBeGreaterThanOrEqual(36);
  await pace.finish();
});
