/**
 * HTTP routes: /api/jobs (200/400/401/403), /healthz while Redis is down and
 * after it is back, /metrics, the page and the bundle; and the gateway
 * attached to an application's own server and express app.
 */
import { createServer } from "node:http";
import express from "express";
import pino from "pino";
import { createGateway } from "../../server";
import { RedisProgress } from "../../shared/tracker/redis-progress";
import { TestRedis } from "../helpers/redis-server";
import {
  TEST_SECRET,
  TestGateway,
  connected,
  rawToken,
  subscribe,
  waitFor,
} from "../helpers/gateway";
import { io } from "socket.io-client";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  await tg.stop();
});

async function jobs(query: string, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${tg.url}/api/jobs${query}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: await res.json() };
}

describe("/api/jobs", () => {
  test("200 with the scope's jobs", async () => {
    const pace = await RedisProgress.start({ redis: tg.redis.url, scope: "http:1", total: 4 });
    pace.tick(2);
    await pace.flush();
    const { status, body } = await jobs("?scope=http:1", await tg.token(["http:*"]));
    expect(status).toBe(200);
    expect(body).toEqual({
      scope: "http:1",
      jobs: { [pace.id]: expect.objectContaining({ id: pace.id, percent: 50, count: 2 }) },
    });
    await pace.finish();
    const empty = await jobs("?scope=http:none", await tg.token(["http:*"]));
    expect(empty).toEqual({ status: 200, body: { scope: "http:none", jobs: {} } });
  });

  test("400 for an invalid or missing scope", async () => {
    const token = await tg.token(["http:*"]);
    for (const query of [
      "?scope=http:*",
      "?scope=http%3A%7B1%7D",
      "",
      "?scope=a&scope=b",
      "?scope=",
    ]) {
      const { status, body } = await jobs(query, token);
      expect([query, status]).toEqual([query, 400]);
      expect(body).toMatchObject({ error: { code: "invalid_scope" } });
    }
  });

  test("401 without a valid token", async () => {
    expect((await jobs("?scope=http:1")).status).toBe(401);
    expect((await jobs("?scope=http:1", "garbage")).status).toBe(401);
    const forged = await rawToken({ scopes: ["http:*"] }, { secret: "x".repeat(40) });
    expect((await jobs("?scope=http:1", forged)).status).toBe(401);
    const expired = await rawToken(
      { scopes: ["http:*"] },
      { exp: Math.floor(Date.now() / 1000) - 60 },
    );
    expect((await jobs("?scope=http:1", expired)).status).toBe(401);
    const res = await fetch(`${tg.url}/api/jobs?scope=http:1`, {
      headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` },
    });
    expect(res.status).toBe(401);
  });

  test("403 for a scope the token does not grant", async () => {
    const { status, body } = await jobs("?scope=httpx:1", await tg.token(["http:*"]));
    expect(status).toBe(403);
    expect(body).toMatchObject({ error: { code: "forbidden" } });
  });
});

test("/healthz is 503 while Redis is down and 200 after it is back", async () => {
  const redis = await TestRedis.start();
  const own = await TestGateway.start({ redis, gateway: { redisTimeout: 1000 } });
  try {
    await waitFor(async () => (await fetch(`${own.url}/healthz`)).status === 200);
    expect(await (await fetch(`${own.url}/healthz`)).json()).toEqual({ status: "ok" });
    await redis.kill();
    const down = await waitFor(async () => {
      const res = await fetch(`${own.url}/healthz`);
      return res.status === 503 ? res : undefined;
    });
    expect(await down.json()).toEqual({ status: "unavailable" });
    // A subscribe now fails with `unavailable` instead of hanging.
    const socket = await own.connect(await own.token(["h:1"]));
    const ack = await subscribe(socket, "h:1");
    expect(ack.ok ? "ok" : ack.error.code).toBe("unavailable");
    await redis.restart();
    await waitFor(async () => (await fetch(`${own.url}/healthz`)).status === 200, {
      what: "/healthz 200 after the restart",
    });
    await waitFor(async () => (await subscribe(socket, "h:1")).ok, {
      what: "subscribe works again",
    });
  } finally {
    await own.stop();
    await redis.stop();
  }
});

test("/metrics is Prometheus text with the gateway's metrics", async () => {
  const socket = await tg.connect(await tg.token(["m:1"]));
  await subscribe(socket, "m:1");
  const res = await fetch(`${tg.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await res.text();
  for (const name of [
    "redis_progress_connected_sockets",
    "redis_progress_live_scopes",
    "redis_progress_updates_received_total",
    "redis_progress_updates_emitted_total",
    "redis_progress_redis_errors_total",
    "redis_progress_event_loop_lag_seconds",
  ]) {
    expect(text).toContain(`# TYPE ${name}`);
  }
  expect(text).toMatch(/^redis_progress_connected_sockets [1-9]/m);
  expect(text).toMatch(/^redis_progress_subscribes_total\{result="ok"\} [1-9]/m);
});

test("/ serves a page, /redis-progress.js the bundle or a clear 404", async () => {
  const page = await fetch(`${tg.url}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/text\/html/);
  const bundle = await fetch(`${tg.url}/redis-progress.js`);
  if (bundle.status === 200) {
    expect(bundle.headers.get("content-type")).toMatch(/javascript/);
  } else {
    expect(bundle.status).toBe(404);
    expect(await bundle.text()).toMatch(/npm run build/);
  }
  expect((await fetch(`${tg.url}/demo/token`)).status).toBe(404);
  expect((await fetch(`${tg.url}/nothing-here`)).status).toBe(404);
});

test("attached to an application's own server and express app", async () => {
  const app = express();
  app.get("/app", (_req, res) => {
    res.send("the application");
  });
  const server = createServer(app);
  const gateway = createGateway({
    secret: TEST_SECRET,
    redis: tg.redis.url,
    server,
    logger: pino({ level: "silent" }),
  });
  app.use(gateway.router);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  try {
    expect(await (await fetch(`${url}/app`)).text()).toBe("the application");
    await waitFor(async () => (await fetch(`${url}/healthz`)).status === 200);
    const socket = io(url, {
      auth: { token: await tg.token(["app:1"]) },
      transports: ["websocket"],
      autoConnect: false,
      reconnection: false,
    });
    await connected(socket);
    expect((await subscribe(socket, "app:1")).ok).toBe(true);
    socket.disconnect();
  } finally {
    await gateway.close();
    // The server stays the application's: still listening until it closes it.
    expect(server.listening).toBe(true);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("a lazyConnect client of the application works as the gateway's redis", async () => {
  const client = tg.redis.client({ lazyConnect: true });
  const gateway = createGateway({
    secret: TEST_SECRET,
    redis: client,
    logger: pino({ level: "silent" }),
  });
  const { port } = await gateway.listen(0, "127.0.0.1");
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200);
    const socket = io(`http://127.0.0.1:${port}`, {
      auth: { token: await tg.token(["lazy:1"]) },
      transports: ["websocket"],
      autoConnect: false,
      reconnection: false,
    });
    await connected(socket);
    expect((await subscribe(socket, "lazy:1")).ok).toBe(true);
    socket.disconnect();
  } finally {
    await gateway.close();
  }
  // The application's client stays open.
  expect(await client.ping()).toBe("PONG");
});
