/**
 * Abuse 12: cross-site WebSocket hijacking. Socket.IO requests with a foreign
 * `Origin` get 403 on both transports: the WebSocket upgrade, the polling
 * handshake, and polling requests on an already open session (GET and POST),
 * including look-alike origins (another port, scheme or host name for the same
 * address, a suffix trick, `null`). The scheme is deliberately not compared:
 * behind a TLS-terminating proxy the page is https and the gateway sees http
 * (the Host must match). Requests without Origin (non-browser
 * clients) and the gateway's own origin pass; /api/jobs gives CORS headers to
 * no foreign origin.
 */
import { request } from "node:http";
import { TestGateway } from "../helpers/gateway";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start();
});

afterAll(async () => {
  await tg.stop();
});

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function http(
  path: string,
  headers: Record<string, string>,
  method = "GET",
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${tg.url}${path}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
      );
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: "" });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const upgrade = (origin?: string) =>
  http("/socket.io/?EIO=4&transport=websocket", {
    Connection: "Upgrade",
    Upgrade: "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": Buffer.from("0123456789abcdef").toString("base64"),
    ...(origin === undefined ? {} : { Origin: origin }),
  });

const handshake = (origin?: string) =>
  http("/socket.io/?EIO=4&transport=polling", origin === undefined ? {} : { Origin: origin });

function foreignOrigins(): string[] {
  const port = tg.port;
  return [
    "https://evil.example",
    "null",
    `http://127.0.0.1:${port + 1}`, // another port
    `http://localhost:${port}`, // another name for the same address
    `http://127.0.0.1:${port}.evil.example`,
    `http://evil.example/http://127.0.0.1:${port}`,
    "garbage",
  ];
}

test("a foreign Origin gets 403 on the WebSocket upgrade and on polling", async () => {
  for (const origin of foreignOrigins()) {
    const ws = await upgrade(origin);
    expect([origin, "upgrade", ws.status]).toEqual([origin, "upgrade", 403]);
    const poll = await handshake(origin);
    expect([origin, "polling", poll.status]).toEqual([origin, "polling", 403]);
    expect(poll.body).not.toMatch(/"sid"/);
  }
});

test("an open polling session cannot be used from a foreign Origin (GET or POST)", async () => {
  const open = await handshake();
  expect(open.status).toBe(200);
  const sid = (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
  const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  for (const origin of foreignOrigins()) {
    const post = await http(path, { Origin: origin, "Content-Type": "text/plain" }, "POST", "40");
    expect([origin, "POST", post.status]).toEqual([origin, "POST", 403]);
    const get = await http(path, { Origin: origin });
    expect([origin, "GET", get.status]).toEqual([origin, "GET", 403]);
  }
  // The session's owner (no Origin) can still use it.
  const own = await http(path, { "Content-Type": "text/plain" }, "POST", "40");
  expect(own.status).toBe(200);
});

test("no Origin and the gateway's own origin pass; socket.io-client with a foreign Origin is refused", async () => {
  expect((await upgrade()).status).toBe(101);
  expect((await upgrade(tg.url)).status).toBe(101);
  expect((await handshake()).status).toBe(200);
  expect((await handshake(tg.url)).status).toBe(200);

  const token = await tg.token(["user:1"]);
  for (const transports of [["websocket"], ["polling"]]) {
    const socket = tg.client(token, {
      transports,
      extraHeaders: { Origin: "https://evil.example" },
    });
    const error = await new Promise<Error | null>((resolve) => {
      socket.once("connect", () => resolve(null));
      socket.once("connect_error", resolve);
      socket.connect();
    });
    socket.disconnect();
    expect([transports[0], error]).toEqual([transports[0], expect.any(Error)]);
  }
});

test("/api/jobs sends CORS headers to no foreign origin", async () => {
  const token = await tg.token(["user:1"]);
  for (const origin of foreignOrigins()) {
    const res = await http("/api/jobs?scope=user:1", {
      Origin: origin,
      Authorization: `Bearer ${token}`,
    });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await http("/api/jobs?scope=user:1", { Origin: origin }, "OPTIONS");
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  }
});
