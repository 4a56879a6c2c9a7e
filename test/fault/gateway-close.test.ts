/**
 * Closing a gateway when Redis is in trouble, and on a server that is the
 * caller's: close() must not wait on a Redis that does not answer, a
 * subscribe waiting for Redis fails at once, and the caller's server is left
 * as it was, serving no Socket.IO request any more.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { createGateway } from "../../server";
import { UnavailableError } from "../../server/errors";
import { openSubscriber, Subscriber } from "../../server/subscriber";
import { TEST_SECRET, TestGateway, subscribe } from "../helpers/gateway";
import { TestRedis } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait";

jest.setTimeout(30_000);

/** Settles with `promise`, or rejects once `ms` have passed (so a hang fails the test). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

test("close() resolves while Redis is frozen (SIGSTOP): QUIT is not waited on past redisTimeout", async () => {
  const redis = await TestRedis.start();
  const tg = await TestGateway.start({ redis, gateway: { redisTimeout: 500 } });
  try {
    const token = await tg.token(["frozen:1"]);
    const socket = await tg.connect(token);
    expect(await subscribe(socket, "frozen:1")).toMatchObject({ ok: true });
    redis.freeze();
    await within(tg.gateway.close(), 5_000, "close()");
  } finally {
    redis.thaw();
    await tg.stop();
    await redis.stop();
  }
});

test("a subscribe waiting for Redis to come back fails at once when the subscriber closes", async () => {
  const redis = await TestRedis.start();
  const subscriber = new Subscriber(openSubscriber(redis.url), 20_000);
  subscriber.on("error", () => {});
  try {
    await subscriber.subscribe(["warm"]);
    await redis.kill();
    // Waiting for the connection to be ready again, not for an answer.
    await waitFor(() => !subscriber.ready, { what: "the subscriber to see the kill" });
    const waiting = subscriber.subscribe(["later"]);
    const outcome = waiting.then(
      () => "subscribed",
      (error: unknown) => error,
    );
    await subscriber.close();
    const error = await within(outcome, 2_000, "the waiting subscribe");
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/closing/);
  } finally {
    await subscriber.close();
    await redis.stop();
  }
});

test("on a server that is yours, close() takes its Socket.IO listeners off and gives yours back", async () => {
  const redis = await TestRedis.start();
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("the app");
  });
  const gateway = createGateway({
    secret: TEST_SECRET,
    redis: redis.url,
    server,
    logger: pino({ level: "silent" }),
  });
  // Yours, added after the gateway attached: they stay.
  const later = () => {};
  server.on("request", later);
  server.on("close", later);
  try {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const handshake = `${base}/socket.io/?EIO=4&transport=polling`;
    // Attached: engine.io answers its handshake, the app everything else.
    expect(await (await fetch(handshake)).text()).toMatch(/"sid"/);
    expect(await (await fetch(`${base}/other`)).text()).toBe("the app");
    await gateway.close();
    // Closed: the app answers everything, Socket.IO's path included.
    expect(await (await fetch(handshake)).text()).toBe("the app");
    expect(await (await fetch(`${base}/other`)).text()).toBe("the app");
    expect(server.listeners("upgrade")).toEqual([]);
    expect(server.listeners("request")).toContain(later);
    expect(server.listeners("close")).toEqual([later]);
  } finally {
    await gateway.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await redis.stop();
  }
});
