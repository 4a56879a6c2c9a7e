/**
 * Demo mode in process: simulated workers write through the real tracker, and
 * GET /demo/token answers loopback requests for loopback host names only.
 */
import { request } from "node:http";
import { createGateway } from "../../server";
import { relativeSocketPath } from "../../server/demo";
import { TestGateway, TEST_SECRET, subscribe, waitFor } from "../helpers/gateway";
import type { JobValue } from "../../shared/job";

let tg: TestGateway;

beforeAll(async () => {
  tg = await TestGateway.start({
    gateway: { demo: { scopes: ["d:1", "d:2"], interval: 20, tokenTtl: 60 } },
  });
});

afterAll(async () => {
  await tg.stop();
});

function get(
  path: string,
  headers: Record<string, string> = {},
  base = tg.url,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("the token endpoint grants the demo scopes' prefixes, to loopback clients", async () => {
  const { status, body } = await get("/demo/token");
  expect(status).toBe(200);
  const parsed = JSON.parse(body) as {
    token: string;
    scopes: string[];
    expires_at: string;
    demo_scopes: string[];
    interval: number;
    socket_path: string;
  };
  expect(parsed.scopes).toEqual(["d:*"]);
  // What the dashboard shows: the scopes with jobs, their workers' interval, and
  // Socket.IO's path relative to the page's directory.
  expect(parsed.demo_scopes).toEqual(["d:1", "d:2"]);
  expect(parsed.interval).toBe(20);
  expect(parsed.socket_path).toBe("socket.io");
  expect(Date.parse(parsed.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
  expect((await get("/demo/token", { Host: `localhost:${tg.port}` })).status).toBe(200);
});

test("the token endpoint refuses a foreign Host (DNS rebinding) or a foreign Origin", async () => {
  expect((await get("/demo/token", { Host: `evil.example:${tg.port}` })).status).toBe(403);
  expect((await get("/demo/token", { Origin: "https://evil.example" })).status).toBe(403);
  expect((await get("/demo/token", { Origin: tg.url })).status).toBe(200);
});

test("simulated jobs run in every demo scope, live", async () => {
  const { token } = JSON.parse((await get("/demo/token")).body) as { token: string };
  const socket = await tg.connect(token);
  const seen = new Map<string, JobValue>();
  socket.on("progress", (message) => {
    for (const [id, value] of Object.entries(message.jobs))
      if (value) seen.set(`${message.scope}/${id}`, value);
  });
  expect((await subscribe(socket, "d:1")).ok).toBe(true);
  expect((await subscribe(socket, "d:2")).ok).toBe(true);
  await waitFor(() => [...seen.keys()].some((k) => k.startsWith("d:1/")), {
    what: "progress in d:1",
  });
  await waitFor(() => [...seen.keys()].some((k) => k.startsWith("d:2/")), {
    what: "progress in d:2",
  });
  const job = [...seen.values()][0] as JobValue;
  expect(job.name).toEqual(expect.any(String));
  expect(job.meta).toEqual({ demo: true });
});

test("a one-part demo scope is granted exactly, since `reports:*` does not grant `reports`", async () => {
  const other = await TestGateway.start({
    redis: tg.redis,
    gateway: { demo: { scopes: ["reports", "d:3"], interval: 20, tokenTtl: 60 } },
  });
  try {
    const { token, scopes } = JSON.parse((await get("/demo/token", {}, other.url)).body) as {
      token: string;
      scopes: string[];
    };
    expect(scopes).toEqual(["reports", "d:*"]);
    // The dashboard's view of the demo's own one-part scope: granted, and live.
    const socket = await other.connect(token);
    let seen = false;
    socket.on("progress", (message) => {
      if (message.scope === "reports" && Object.keys(message.jobs).length > 0) seen = true;
    });
    expect((await subscribe(socket, "reports")).ok).toBe(true);
    await waitFor(() => seen, { what: "progress in reports" });
  } finally {
    await other.stop();
  }
});

test("socket_path is Socket.IO's path relative to the directory the router is mounted at", () => {
  expect(relativeSocketPath("/socket.io", "")).toBe("socket.io");
  expect(relativeSocketPath("/rp/socket.io", "")).toBe("rp/socket.io");
  expect(relativeSocketPath("/admin/socket.io", "/admin")).toBe("socket.io");
  expect(relativeSocketPath("/socket.io", "/admin")).toBe("../socket.io");
  expect(relativeSocketPath("/rp/socket.io", "/a/b/")).toBe("../../rp/socket.io");
  // Resolved by the page against its directory, behind a proxy's prefix:
  const page = "https://example.com/progress/admin/";
  expect(new URL(relativeSocketPath("/socket.io", "/admin"), page).pathname).toBe(
    "/progress/socket.io",
  );
});

test("bad demo options are refused before anything starts", () => {
  expect(() =>
    createGateway({ secret: TEST_SECRET, redis: tg.redis.url, demo: { scopes: ["a b"] } }),
  ).toThrow(/Scope part/);
  expect(() =>
    createGateway({ secret: TEST_SECRET, redis: tg.redis.url, demo: { interval: 0 } }),
  ).toThrow(/demo.interval/);
});
