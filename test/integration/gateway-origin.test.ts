/**
 * The Origin check on Socket.IO's transports: a foreign Origin gets 403 on a
 * WebSocket upgrade and on polling; same-origin, listed origins and clients
 * without Origin pass.
 */
import { request } from "node:http";
import { randomBytes } from "node:crypto";
import { TestRedis } from "../helpers/redis-server";
import { TestGateway } from "../helpers/gateway";

let redis: TestRedis;
let tg: TestGateway;
let listed: TestGateway;

beforeAll(async () => {
  redis = await TestRedis.start();
  tg = await TestGateway.start({ redis });
  listed = await TestGateway.start({
    redis,
    gateway: { allowedOrigins: ["https://app.example.com", "http://localhost:8080/"] },
  });
});

afterAll(async () => {
  await tg.stop();
  await listed.stop();
  await redis.stop();
});

function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on("error", reject);
    req.end();
  });
}

function polling(tgw: TestGateway, origin?: string) {
  return get(
    `${tgw.url}/socket.io/?EIO=4&transport=polling`,
    origin === undefined ? {} : { Origin: origin },
  );
}

/** Starts a WebSocket handshake; resolves with 101 on upgrade or the refusal's status. */
function websocket(tgw: TestGateway, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    };
    if (origin !== undefined) headers.Origin = origin;
    const req = request(`${tgw.url}/socket.io/?EIO=4&transport=websocket`, { headers });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

test("a foreign Origin gets 403 on polling", async () => {
  expect((await polling(tg, "https://evil.example")).status).toBe(403);
  expect((await polling(tg, "null")).status).toBe(403);
  expect((await polling(tg, `http://127.0.0.1:${tg.port + 1}`)).status).toBe(403);
});

test("a foreign Origin gets 403 on a WebSocket upgrade", async () => {
  expect(await websocket(tg, "https://evil.example")).toBe(403);
  expect(await websocket(tg, "null")).toBe(403);
});

test("same-origin and no Origin pass, on both transports", async () => {
  expect((await polling(tg)).status).toBe(200);
  expect((await polling(tg, tg.url)).status).toBe(200);
  expect(await websocket(tg)).toBe(101);
  expect(await websocket(tg, tg.url)).toBe(101);
});

test("listed origins pass (with CORS headers) and others do not", async () => {
  const ok = await polling(listed, "https://app.example.com");
  expect(ok.status).toBe(200);
  expect(ok.headers["access-control-allow-origin"]).toBe("https://app.example.com");
  expect((await polling(listed, "http://localhost:8080")).status).toBe(200);
  expect(await websocket(listed, "https://app.example.com")).toBe(101);
  expect((await polling(listed, "https://app.example.com.evil.example")).status).toBe(403);
  expect(await websocket(listed, "http://app.example.com")).toBe(403);
});

test("a socket.io client sending a foreign Origin cannot connect, on either transport", async () => {
  const token = await tg.token(["user:1"]);
  for (const transports of [["websocket"], ["polling"]]) {
    const socket = tg.client(token, {
      transports,
      extraHeaders: { Origin: "https://evil.example" },
    });
    const outcome = await new Promise<string>((resolve) => {
      socket.once("connect", () => resolve("connected"));
      socket.once("connect_error", () => resolve("refused"));
      socket.connect();
    });
    socket.disconnect();
    expect(outcome).toBe("refused");
  }
  const good = await tg.connect(token, {
    transports: ["polling"],
    extraHeaders: { Origin: tg.url },
  });
  expect(good.connected).toBe(true);
});

test("the gateway refuses allowedOrigins that are not origins", async () => {
  await expect(
    TestGateway.start({ redis, gateway: { allowedOrigins: ["app.example.com"] } }),
  ).rejects.toThrow(/allowedOrigins/);
  await expect(
    TestGateway.start({ redis, gateway: { allowedOrigins: ["https://app.example.com/path"] } }),
  ).rejects.toThrow(/allowedOrigins/);
});
