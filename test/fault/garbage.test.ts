/**
 * Abuse 14: garbage in Redis. Values written by hand into a scope hash (not
 * JSON, JSON of the wrong shape or types, a job under another id, deeply nested
 * JSON), garbage PUBLISHed on the scope's channel, and a scope key of the wrong
 * Redis type: the gateway skips them and reports them (its garbage metric and a
 * warning), serves the real jobs, and keeps serving; the browser SDK, fed
 * garbage directly by a fake gateway, does not throw either. A tracker whose own
 * value was overwritten with garbage writes a proper one again.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { Server } from "socket.io";
import { createProgressClient } from "../../client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../shared/events";
import { RedisProgress } from "../../shared";
import { TestGateway, subscribe } from "../helpers/gateway";
import { ScopeView, storedJobs } from "../helpers/fault";
import { waitFor } from "../helpers/wait";

const warnings: string[] = [];
let tg: TestGateway;

beforeAll(async () => {
  const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
  tg = await TestGateway.start({ gateway: { logger, coalesceWindow: 0 } });
});

afterAll(async () => {
  await tg.stop();
});

async function garbageCount(where: string): Promise<number> {
  const text = await (await fetch(`${tg.url}/metrics`)).text();
  const match = new RegExp(`redis_progress_garbage_values_total\\{where="${where}"\\} (\\d+)`).exec(
    text,
  );
  return Number(match?.[1] ?? 0);
}

const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

test("garbage in a scope hash and on its channel is skipped and reported; the real job is served", async () => {
  const scope = "fault:garbage";
  const hash = `resque:pace:${scope}`;
  const admin = tg.redis.client();
  const pace = await RedisProgress.start({ redis: tg.redis.url, scope, total: 10, interval: 1 });
  const valid = (await storedJobs(admin, scope))[pace.id];
  await admin.hset(hash, {
    "not-json": "hello {",
    empty: "",
    "json-null": "null",
    number: "42",
    array: "[1,2,3]",
    "wrong-types": JSON.stringify({ ...valid, id: "wrong-types", percent: "50", seq: "9" }),
    "bad-status": JSON.stringify({ ...valid, id: "bad-status", status: "exploded" }),
    "bad-date": JSON.stringify({ ...valid, id: "bad-date", updated_at: "yesterday" }),
    "other-id": JSON.stringify({ ...valid, id: "someone-else" }),
    nested: deep(100_000),
  });
  await admin.hset(hash, "__proto__", JSON.stringify({ polluted: true }));

  const view = await ScopeView.open(tg.connect(await tg.token([scope])), scope);
  expect([...view.jobs.keys()]).toEqual([pace.id]);
  const snapshotGarbage = await garbageCount("snapshot");
  expect(snapshotGarbage).toBeGreaterThanOrEqual(11);
  expect(warnings.some((line) => line.includes("skipped values that are not jobs"))).toBe(true);

  // Garbage messages on the channel; then a real write that must still get through.
  for (const message of [
    "not json",
    "null",
    "[]",
    '"a string"',
    JSON.stringify({ scope, jobs: 5 }),
    JSON.stringify({ scope, jobs: null }),
    JSON.stringify({ scope, jobs: [1, 2] }),
    JSON.stringify({ scope, jobs: { x: { bad: 1 } } }),
    JSON.stringify({ scope, jobs: { [pace.id]: { ...valid, seq: "999" } } }),
    `{"scope":"${scope}","jobs":{"__proto__":{"polluted":true}}}`,
    deep(100_000),
  ]) {
    await admin.publish(hash, message);
  }
  pace.tick(5);
  await pace.flush();
  await waitFor(() => view.jobs.get(pace.id)?.count === 5, { what: "the real update" });
  expect([...view.jobs.keys()]).toEqual([pace.id]);
  expect(await garbageCount("message")).toBeGreaterThanOrEqual(9);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();

  // The queries skip it too, and the gateway still serves everyone.
  expect(Object.keys(await RedisProgress.jobs({ redis: tg.redis.url, scope }))).toEqual([pace.id]);
  const res = await fetch(`${tg.url}/api/jobs?scope=${scope}`, {
    headers: { authorization: `Bearer ${await tg.token([scope])}` },
  });
  expect(Object.keys(((await res.json()) as { jobs: object }).jobs)).toEqual([pace.id]);
  const late = await ScopeView.open(tg.connect(await tg.token([scope])), scope);
  expect([...late.jobs.keys()]).toEqual([pace.id]);

  // The tracker's own value overwritten by hand: its next write stores a proper job again.
  const seqBefore = pace.seq;
  await admin.hset(hash, pace.id, "garbage");
  pace.tick(5);
  await pace.finish();
  const job = await RedisProgress.find({ redis: tg.redis.url, scope, id: pace.id });
  expect(job).toMatchObject({ status: "completed", percent: 100 });
  expect(job?.seq).toBeGreaterThan(seqBefore);
  await waitFor(() => view.jobs.get(pace.id)?.status === "completed", { what: "the final state" });
  expect(view.violations).toEqual([]);
});

test("a scope key of the wrong Redis type is served as empty and reported", async () => {
  const admin = tg.redis.client();
  const before = await garbageCount("snapshot");
  await admin.set("resque:pace:fault:wrong-type", "a plain string");
  await admin.lpush("resque:pace:fault:a-list", "x");
  const socket = await tg.connect(await tg.token(["fault:*"]));
  for (const scope of ["fault:wrong-type", "fault:a-list"]) {
    const ack = await subscribe(socket, scope);
    expect(ack).toMatchObject({ ok: true, scope });
    expect(ack.ok && Object.keys(ack.jobs)).toEqual([]);
  }
  expect(await garbageCount("snapshot")).toBe(before + 2);
  expect(socket.connected).toBe(true);
});

test("the browser SDK skips garbage sent straight to it, without throwing", async () => {
  const server = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const good = {
    id: "good",
    percent: 10,
    count: 1,
    total: 10,
    started_at: "2024-01-01T00:00:00.000Z",
    estimated_finished_at: null,
    finished_at: null,
    status: "running" as const,
    updated_at: new Date().toISOString(),
    seq: 1,
  };
  io.on("connection", (socket) => {
    socket.on("subscribe", ({ scope }, ack) => {
      ack({ ok: true, scope, jobs: { good, bad: { nope: true } } as never });
      const send = (event: "progress" | "snapshot", payload: unknown) =>
        socket.emit(event, payload as never);
      send("progress", null);
      send("progress", "garbage");
      send("progress", { scope, jobs: null });
      send("progress", { scope, jobs: "x" });
      send("progress", { scope, jobs: [1, 2] });
      send("progress", { scope, jobs: { good: { ...good, seq: "2" } } });
      send("progress", { scope, jobs: { other: 5 } });
      send("snapshot", { scope, jobs: { good: "x" } });
      send("progress", { scope, jobs: { good: { ...good, seq: 3, count: 3 } } }); // the marker
    });
  });
  const client = createProgressClient({
    url,
    token: "not-checked-by-the-fake",
    socketOptions: { transports: ["websocket"] },
  });
  const thrown: unknown[] = [];
  try {
    client.subscribe("user:1", () => {});
    await waitFor(() => client.jobs("user:1").good?.seq === 3 || undefined, {
      what: "the marker",
    }).catch((error: unknown) => thrown.push(error));
    // The snapshot of garbage removed `good`; the marker (a real value) brought it back.
    expect(Object.keys(client.jobs("user:1"))).toEqual(["good"]);
    expect(client.jobs("user:1").good).toMatchObject({ seq: 3, count: 3 });
    expect(thrown).toEqual([]);
  } finally {
    client.close();
    await new Promise((resolve) => io.close(resolve));
  }
});
