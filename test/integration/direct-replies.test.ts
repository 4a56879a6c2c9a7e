/**
 * ioredis attaches its parser with prependListener("data"), which leaves the
 * socket buffering every chunk until a nextTick hands it over. The gateway's
 * pub/sub connections are armed (readRepliesDirectly) so that a message is
 * parsed inside the read's own callback. The stack of the message listener
 * shows which way the chunk came: through Node 20's internal frames
 * `onStreamRead` (at once) or `emitReadable_` (a nextTick later), whose
 * names the canary below checks are still there.
 */
import { Redis } from "ioredis";
import { readRepliesDirectly } from "../../server/direct-replies";
import { openSubscriber } from "../../server/subscriber";
import { TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
const clients: Redis[] = [];
let stackLimit: number;

beforeAll(async () => {
  redis = await TestRedis.start();
  stackLimit = Error.stackTraceLimit;
  // The frames that tell the two ways apart lie ~20 below the listener.
  Error.stackTraceLimit = 100;
});
afterAll(async () => {
  Error.stackTraceLimit = stackLimit;
  for (const client of clients) client.disconnect();
  await redis.stop();
});

/** The stack of the listener that receives one published message on `subscriber`. */
async function stackOfMessage(subscriber: Redis, channel: string): Promise<string> {
  if (!clients.includes(subscriber)) clients.push(subscriber);
  // The gateway's connection has no offline queue: wait until it is up.
  if (subscriber.status !== "ready")
    await new Promise((resolve) => subscriber.once("ready", resolve));
  await subscriber.subscribe(channel);
  const received = new Promise<string>((resolve) => {
    subscriber.once("message", () => resolve(new Error("here").stack ?? ""));
  });
  const publisher = redis.client();
  await publisher.publish(channel, "x");
  return received;
}

// A canary, not a test of our code: if an ioredis or Node release changes how
// a chunk reaches the parser, this fails first and says why the others might.
test("canary: without arming, ioredis gets each chunk a nextTick after the read (what the fix removes)", async () => {
  const stack = await stackOfMessage(new Redis(redis.url), "direct:plain");
  expect(stack).toContain("emitReadable_");
});

test("an armed connection parses a message inside the read's callback", async () => {
  const subscriber = new Redis(redis.url, { lazyConnect: true });
  readRepliesDirectly(subscriber);
  await subscriber.connect();
  const stack = await stackOfMessage(subscriber, "direct:armed");
  expect(stack).toContain("onStreamRead");
  expect(stack).not.toContain("emitReadable_");
});

test("the gateway's subscriber connection is armed, and stays armed after a reconnection", async () => {
  const subscriber = openSubscriber(redis.url);
  const first = await stackOfMessage(subscriber, "direct:gateway");
  expect(first).toContain("onStreamRead");
  expect(first).not.toContain("emitReadable_");
  const reconnected = new Promise((resolve) => subscriber.once("ready", resolve));
  subscriber.stream.destroy();
  await reconnected;
  const stack = await stackOfMessage(subscriber, "direct:gateway-again");
  expect(stack).toContain("onStreamRead");
  expect(stack).not.toContain("emitReadable_");
});
